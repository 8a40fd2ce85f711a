/* sip/chars: the character class table, built once at compile time. */
#include "sip/chars.h"

#define A SPS_C_ALNUM | SPS_C_TOKEN | SPS_C_HOST | SPS_C_WORD
#define AH A | SPS_C_HEX | SPS_C_TELCHAR
#define D SPS_C_ALNUM | SPS_C_TOKEN | SPS_C_HOST | SPS_C_WORD | SPS_C_HEX | SPS_C_TELCHAR

const unsigned short sps__sip_chars[256] = {
	['0'] = D, ['1'] = D, ['2'] = D, ['3'] = D, ['4'] = D,
	['5'] = D, ['6'] = D, ['7'] = D, ['8'] = D, ['9'] = D,
	['a'] = AH, ['b'] = AH, ['c'] = AH, ['d'] = AH, ['e'] = AH, ['f'] = AH,
	['A'] = AH, ['B'] = AH, ['C'] = AH, ['D'] = AH, ['E'] = AH, ['F'] = AH,
	['g'] = A, ['h'] = A, ['i'] = A, ['j'] = A, ['k'] = A, ['l'] = A, ['m'] = A,
	['n'] = A, ['o'] = A, ['p'] = A, ['q'] = A, ['r'] = A, ['s'] = A, ['t'] = A,
	['u'] = A, ['v'] = A, ['w'] = A, ['x'] = A, ['y'] = A, ['z'] = A,
	['G'] = A, ['H'] = A, ['I'] = A, ['J'] = A, ['K'] = A, ['L'] = A, ['M'] = A,
	['N'] = A, ['O'] = A, ['P'] = A, ['Q'] = A, ['R'] = A, ['S'] = A, ['T'] = A,
	['U'] = A, ['V'] = A, ['W'] = A, ['X'] = A, ['Y'] = A, ['Z'] = A,
	['-'] = SPS_C_MARK | SPS_C_TOKEN | SPS_C_HOST | SPS_C_WORD | SPS_C_TELCHAR,
	['.'] = SPS_C_MARK | SPS_C_TOKEN | SPS_C_HOST | SPS_C_WORD | SPS_C_TELCHAR,
	['_'] = SPS_C_MARK | SPS_C_TOKEN | SPS_C_WORD,
	['!'] = SPS_C_MARK | SPS_C_TOKEN | SPS_C_WORD,
	['~'] = SPS_C_MARK | SPS_C_TOKEN | SPS_C_WORD,
	['*'] = SPS_C_MARK | SPS_C_TOKEN | SPS_C_WORD | SPS_C_TELCHAR,
	['\''] = SPS_C_MARK | SPS_C_TOKEN | SPS_C_WORD,
	['('] = SPS_C_MARK | SPS_C_WORD | SPS_C_TELCHAR,
	[')'] = SPS_C_MARK | SPS_C_WORD | SPS_C_TELCHAR,
	['%'] = SPS_C_TOKEN | SPS_C_WORD,
	['+'] = SPS_C_TOKEN | SPS_C_USER | SPS_C_PASSWD | SPS_C_PARAM | SPS_C_HNV | SPS_C_WORD |
		SPS_C_TELCHAR,
	['`'] = SPS_C_TOKEN | SPS_C_WORD,
	['&'] = SPS_C_USER | SPS_C_PASSWD | SPS_C_PARAM,
	['='] = SPS_C_USER | SPS_C_PASSWD,
	['$'] = SPS_C_USER | SPS_C_PASSWD | SPS_C_PARAM | SPS_C_HNV,
	[','] = SPS_C_USER | SPS_C_PASSWD,
	[';'] = SPS_C_USER,
	['?'] = SPS_C_USER | SPS_C_HNV | SPS_C_WORD,
	['/'] = SPS_C_USER | SPS_C_PARAM | SPS_C_HNV | SPS_C_WORD,
	['['] = SPS_C_PARAM | SPS_C_HNV | SPS_C_WORD,
	[']'] = SPS_C_PARAM | SPS_C_HNV | SPS_C_WORD,
	[':'] = SPS_C_PARAM | SPS_C_HNV | SPS_C_WORD,
	['<'] = SPS_C_WORD,
	['>'] = SPS_C_WORD,
	['\\'] = SPS_C_WORD,
	['"'] = SPS_C_WORD,
	['{'] = SPS_C_WORD,
	['}'] = SPS_C_WORD,
	['#'] = SPS_C_TELCHAR,
};
