/*
 * contact.c — data-quality functions for contact details: plausibility checks
 * and normalisation of email addresses and phone numbers.
 *
 * Email: trimmed and lower-cased; plausible when it is one ASCII dot-atom
 * local part, '@', and a DNS host name with a letter TLD (or a punycode one).
 * Quoted local parts, address literals, comments and display names are not
 * accepted: they are legal in RFC 5322 but never what a lead types into a form.
 * Non-ASCII addresses are not accepted either (store the punycode domain):
 * lower-casing them would depend on the collation, and IMMUTABLE forbids that.
 *
 * Phone: reduced to E.164 ('+', calling code, national significant number;
 * 8–15 digits in all).  The calling code must be an assigned ITU-T E.164
 * code.  For about fifty common countries the national significant number's
 * length, trunk prefixes and international dialling prefixes are known and
 * checked; other assigned codes get only the 8–15 digit rule.  Extensions are
 * dropped; letters elsewhere make a number invalid.  doc/data_quality.md is the
 * user-facing description of every rule.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "contact.h"

/* Longest local part of an email address, in octets (RFC 5321). */
#define EMAIL_LOCAL_MAX 64
/* Longest DNS label, in octets. */
#define DNS_LABEL_MAX 63
/* E.164 limits on the digits after '+'. */
#define E164_MIN_DIGITS 8
#define E164_MAX_DIGITS 15
/* More digits than this cannot be a number even with an international prefix in front. */
#define PHONE_MAX_DIGITS 24
/* Longest extension we accept (digits). */
#define PHONE_EXT_MAX_DIGITS 8
/* How much of a rejected default country we quote back in the error message. */
#define COUNTRY_QUOTE_MAX 40

/*
 * Numbering rules of one country calling code.  min_nsn = 0 means the code is
 * assigned but its plan is not described here: then only the E.164 total of
 * 8–15 digits is checked and a national number loses one leading trunk 0.
 */
struct PhoneCountry
{
	const char *code;	  /* calling code, 1–3 digits */
	int8 min_nsn;		  /* shortest national significant number */
	int8 max_nsn;		  /* longest national significant number */
	bool leading_zero;	  /* a national significant number may begin with 0 */
	bool nanp;			  /* North American plan: NXX NXX XXXX */
	const char *trunk[3]; /* national (trunk) prefixes, longest first */
	const char *idd[5];	  /* international prefixes other than the universal 00 */
};

/* clang-format off */
/* A calling code with a described numbering plan. */
#define PLAN(code, min, max, ...) {code, min, max, false, false, __VA_ARGS__}
/* An assigned calling code without a described plan. */
#define CODE(code) {code, 0, 0, true, false, {"0"}, {NULL}}

/*
 * Every assigned ITU-T E.164 country calling code (list of 2023), the common
 * ones with their plans, in ascending order.  Lengths are those of the
 * national significant number (without trunk prefix), wide enough for
 * landlines and mobiles alike: a plausibility check, not a number-range
 * validation.
 */
static const PhoneCountry phone_codes[] = {
	{"1", 10, 10, false, true, {"1"}, {"011"}},     /* US, CA and the rest of NANP */
	{"7", 10, 10, false, false, {"8"}, {"810"}},    /* RU, KZ */
	PLAN("20", 8, 10, {"0"}, {NULL}),               /* EG */
	PLAN("27", 9, 9, {"0"}, {NULL}),                /* ZA */
	PLAN("30", 10, 10, {NULL}, {NULL}),             /* GR */
	PLAN("31", 9, 9, {"0"}, {NULL}),                /* NL */
	PLAN("32", 8, 9, {"0"}, {NULL}),                /* BE */
	PLAN("33", 9, 9, {"0"}, {NULL}),                /* FR */
	PLAN("34", 9, 9, {NULL}, {NULL}),               /* ES */
	PLAN("36", 8, 9, {"06"}, {NULL}),               /* HU */
	{"39", 6, 11, true, false, {NULL}, {NULL}},     /* IT: the 0 of landlines is kept */
	PLAN("40", 9, 9, {"0"}, {NULL}),                /* RO */
	PLAN("41", 9, 9, {"0"}, {NULL}),                /* CH */
	PLAN("43", 6, 13, {"0"}, {NULL}),               /* AT */
	PLAN("44", 7, 10, {"0"}, {NULL}),               /* GB */
	PLAN("45", 8, 8, {NULL}, {NULL}),               /* DK */
	PLAN("46", 7, 10, {"0"}, {NULL}),               /* SE */
	PLAN("47", 8, 8, {NULL}, {NULL}),               /* NO */
	PLAN("48", 9, 9, {NULL}, {NULL}),               /* PL */
	PLAN("49", 6, 13, {"0"}, {NULL}),               /* DE */
	CODE("51"),
	PLAN("52", 10, 10, {"01"}, {NULL}),             /* MX */
	CODE("53"),
	PLAN("54", 10, 11, {"0"}, {NULL}),              /* AR */
	PLAN("55", 10, 11, {"0"}, {NULL}),              /* BR */
	PLAN("56", 9, 9, {NULL}, {NULL}),               /* CL */
	PLAN("57", 8, 10, {NULL}, {NULL}),              /* CO */
	CODE("58"),
	PLAN("60", 8, 10, {"0"}, {NULL}),               /* MY */
	PLAN("61", 9, 9, {"0"}, {"0011"}),              /* AU */
	PLAN("62", 8, 12, {"0"}, {NULL}),               /* ID */
	PLAN("63", 8, 10, {"0"}, {NULL}),               /* PH */
	PLAN("64", 8, 10, {"0"}, {NULL}),               /* NZ */
	PLAN("65", 8, 8, {NULL}, {NULL}),               /* SG */
	PLAN("66", 8, 9, {"0"}, {NULL}),                /* TH */
	PLAN("81", 9, 10, {"0"}, {"010"}),              /* JP */
	PLAN("82", 8, 10, {"0"}, {"001", "002", "005", "008", "00700"}),/* KR */
	PLAN("84", 9, 10, {"0"}, {NULL}),               /* VN */
	PLAN("86", 9, 11, {"0"}, {NULL}),               /* CN */
	PLAN("90", 10, 10, {"0"}, {NULL}),              /* TR */
	PLAN("91", 10, 10, {"0"}, {NULL}),              /* IN */
	PLAN("92", 9, 10, {"0"}, {NULL}),               /* PK */
	CODE("93"), CODE("94"), CODE("95"), CODE("98"), CODE("211"), CODE("212"), CODE("213"),
	CODE("216"), CODE("218"), CODE("220"), CODE("221"), CODE("222"), CODE("223"), CODE("224"),
	CODE("225"), CODE("226"), CODE("227"), CODE("228"), CODE("229"), CODE("230"), CODE("231"),
	CODE("232"), CODE("233"),
	PLAN("234", 8, 10, {"0"}, {NULL}),              /* NG */
	CODE("235"), CODE("236"), CODE("237"), CODE("238"), CODE("239"), CODE("240"), CODE("241"),
	CODE("242"), CODE("243"), CODE("244"), CODE("245"), CODE("246"), CODE("247"), CODE("248"),
	CODE("249"), CODE("250"), CODE("251"), CODE("252"), CODE("253"),
	PLAN("254", 9, 9, {"0"}, {NULL}),               /* KE */
	CODE("255"), CODE("256"), CODE("257"), CODE("258"), CODE("260"), CODE("261"), CODE("262"),
	CODE("263"), CODE("264"), CODE("265"), CODE("266"), CODE("267"), CODE("268"), CODE("269"),
	CODE("290"), CODE("291"), CODE("297"), CODE("298"), CODE("299"), CODE("350"),
	PLAN("351", 9, 9, {NULL}, {NULL}),              /* PT */
	PLAN("352", 6, 11, {NULL}, {NULL}),             /* LU */
	PLAN("353", 7, 9, {"0"}, {NULL}),               /* IE */
	CODE("354"), CODE("355"), CODE("356"), CODE("357"),
	PLAN("358", 6, 11, {"0"}, {NULL}),              /* FI */
	PLAN("359", 7, 9, {"0"}, {NULL}),               /* BG */
	PLAN("370", 8, 8, {"8", "0"}, {NULL}),          /* LT */
	PLAN("371", 8, 8, {NULL}, {NULL}),              /* LV */
	PLAN("372", 7, 8, {NULL}, {NULL}),              /* EE */
	CODE("373"),
	PLAN("374", 8, 8, {"0"}, {NULL}),               /* AM */
	PLAN("375", 9, 9, {"80", "8", "0"}, {"810"}),   /* BY */
	CODE("376"), CODE("377"), CODE("378"), CODE("379"),
	PLAN("380", 9, 9, {"0"}, {NULL}),               /* UA */
	CODE("381"), CODE("382"), CODE("383"), CODE("385"), CODE("386"), CODE("387"), CODE("389"),
	PLAN("420", 9, 9, {NULL}, {NULL}),              /* CZ */
	PLAN("421", 9, 9, {"0"}, {NULL}),               /* SK */
	CODE("423"), CODE("500"), CODE("501"), CODE("502"), CODE("503"), CODE("504"), CODE("505"),
	CODE("506"), CODE("507"), CODE("508"), CODE("509"), CODE("590"), CODE("591"), CODE("592"),
	CODE("593"), CODE("594"), CODE("595"), CODE("596"), CODE("597"), CODE("598"), CODE("599"),
	CODE("670"), CODE("672"), CODE("673"), CODE("674"), CODE("675"), CODE("676"), CODE("677"),
	CODE("678"), CODE("679"), CODE("680"), CODE("681"), CODE("682"), CODE("683"), CODE("685"),
	CODE("686"), CODE("687"), CODE("688"), CODE("689"), CODE("690"), CODE("691"), CODE("692"),
	CODE("800"), CODE("808"), CODE("850"),
	PLAN("852", 8, 8, {NULL}, {NULL}),              /* HK */
	CODE("853"), CODE("855"), CODE("856"), CODE("870"), CODE("878"), CODE("880"), CODE("881"),
	CODE("882"), CODE("883"), CODE("886"), CODE("888"), CODE("960"), CODE("961"), CODE("962"),
	CODE("963"), CODE("964"), CODE("965"),
	PLAN("966", 8, 9, {"0"}, {NULL}),               /* SA */
	CODE("967"), CODE("968"), CODE("970"),
	PLAN("971", 8, 9, {"0"}, {NULL}),               /* AE */
	PLAN("972", 8, 9, {"0"}, {NULL}),               /* IL */
	CODE("973"), CODE("974"), CODE("975"), CODE("976"), CODE("977"), CODE("979"), CODE("992"),
	CODE("993"),
	PLAN("994", 9, 9, {"0"}, {NULL}),               /* AZ */
	PLAN("995", 9, 9, {"0"}, {NULL}),               /* GE */
	CODE("996"), CODE("998"),
};
/* clang-format on */

/* ISO 3166 alpha-2 codes accepted as a default country, with their calling codes. */
typedef struct IsoCountry
{
	const char *iso;
	const char *code;
} IsoCountry;

static const IsoCountry iso_countries[] = {
	{"AE", "971"}, {"AM", "374"}, {"AR", "54"},	 {"AT", "43"},	{"AU", "61"},  {"AZ", "994"},
	{"BE", "32"},  {"BG", "359"}, {"BR", "55"},	 {"BY", "375"}, {"CA", "1"},   {"CH", "41"},
	{"CL", "56"},  {"CN", "86"},  {"CO", "57"},	 {"CZ", "420"}, {"DE", "49"},  {"DK", "45"},
	{"EE", "372"}, {"EG", "20"},  {"ES", "34"},	 {"FI", "358"}, {"FR", "33"},  {"GB", "44"},
	{"GE", "995"}, {"GR", "30"},  {"HK", "852"}, {"HU", "36"},	{"ID", "62"},  {"IE", "353"},
	{"IL", "972"}, {"IN", "91"},  {"IT", "39"},	 {"JP", "81"},	{"KE", "254"}, {"KR", "82"},
	{"KZ", "7"},   {"LT", "370"}, {"LU", "352"}, {"LV", "371"}, {"MX", "52"},  {"MY", "60"},
	{"NG", "234"}, {"NL", "31"},  {"NO", "47"},	 {"NZ", "64"},	{"PH", "63"},  {"PK", "92"},
	{"PL", "48"},  {"PT", "351"}, {"RO", "40"},	 {"RU", "7"},	{"SA", "966"}, {"SE", "46"},
	{"SG", "65"},  {"SK", "421"}, {"TH", "66"},	 {"TR", "90"},	{"UA", "380"}, {"UK", "44"},
	{"US", "1"},   {"VN", "84"},  {"ZA", "27"},
};

/* Phone digits as read from the text, before any interpretation. */
typedef struct PhoneDigits
{
	char digits[PHONE_MAX_DIGITS + 1];
	int ndigits;
	bool plus;		 /* written with a leading '+' */
	int zero_group;	 /* index of the digit of a "(0)" group, or -1 */
	int first_group; /* digits before the first '(', or -1 */
} PhoneDigits;

/* phone_codes indexes by code length and value, built on first use. */
static int16 code_index[4][1000];
static bool code_index_built = false;

PG_FUNCTION_INFO_V1(normalize_email);
PG_FUNCTION_INFO_V1(is_valid_email);
PG_FUNCTION_INFO_V1(normalize_phone);
PG_FUNCTION_INFO_V1(is_valid_phone);
PG_FUNCTION_INFO_V1(phone_countries);

/*
 * Length of a Unicode space or dash at p (no-break, narrow no-break and thin
 * spaces, hyphens, dashes, minus sign) when the database is UTF-8, else 0.
 */
static int
Utf8SeparatorLen(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *) p;

	if (GetDatabaseEncoding() != PG_UTF8)
		return 0;
	if (end - p >= 2 && u[0] == 0xC2 && u[1] == 0xA0)
		return 2; /* U+00A0 no-break space */
	if (end - p >= 3 && u[0] == 0xE2 && u[1] == 0x80 &&
		((u[2] >= 0x90 && u[2] <= 0x95) || u[2] == 0x89 || u[2] == 0xAF))
		return 3; /* U+2010–2015 dashes, U+2009 thin, U+202F narrow no-break */
	if (end - p >= 3 && u[0] == 0xE2 && u[1] == 0x88 && u[2] == 0x92)
		return 3; /* U+2212 minus sign */
	return 0;
}

/* Length of white space at p: ASCII white space, or a no-break space in a UTF-8 database. */
static int
SpaceLen(const char *p, const char *end)
{
	const unsigned char *u = (const unsigned char *) p;

	if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f')
		return 1;
	if (GetDatabaseEncoding() == PG_UTF8 && end - p >= 2 && u[0] == 0xC2 && u[1] == 0xA0)
		return 2;
	return 0;
}

/* Narrows [*start, *end) to exclude surrounding white space. */
static void
TrimSpace(const char **start, const char **end)
{
	int k;

	while (*start < *end && (k = SpaceLen(*start, *end)) > 0)
		*start += k;
	while (*end > *start)
	{
		if (strchr(" \t\n\r\v\f", (*end)[-1]) != NULL && (*end)[-1] != '\0')
			(*end)--;
		else if (*end - *start >= 2 && GetDatabaseEncoding() == PG_UTF8 &&
				 (unsigned char) (*end)[-2] == 0xC2 && (unsigned char) (*end)[-1] == 0xA0)
			*end -= 2;
		else
			break;
	}
}

/* Whether c may appear in a dot-atom local part (RFC 5322 atext). */
static bool
IsAtext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		   (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Whether s[0..len) is a dot-atom: atext runs separated by single dots. */
static bool
ValidLocalPart(const char *s, int len)
{
	if (len < 1 || len > EMAIL_LOCAL_MAX || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (int i = 0; i < len; i++)
	{
		if (s[i] == '.')
		{
			if (s[i + 1] == '.')
				return false;
		}
		else if (!IsAtext(s[i]))
			return false;
	}
	return true;
}

/*
 * Whether s[0..len) (lower-case) is a host name of at least two labels of
 * letters, digits and hyphens, none starting or ending with a hyphen, whose
 * last label is letters only (two or more) or a punycode label (xn--…).
 */
static bool
ValidDomain(const char *s, int len)
{
	int label_start = 0;
	int nlabels = 0;

	for (int i = 0; i <= len; i++)
	{
		int label_len;

		if (i < len && s[i] != '.')
		{
			char c = s[i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
				return false;
			continue;
		}
		label_len = i - label_start;
		if (label_len < 1 || label_len > DNS_LABEL_MAX || s[label_start] == '-' || s[i - 1] == '-')
			return false;
		nlabels++;
		if (i == len)
		{
			/* the top-level domain */
			const char *tld = s + label_start;
			bool letters = label_len >= 2;

			for (int j = 0; j < label_len && letters; j++)
				letters = tld[j] >= 'a' && tld[j] <= 'z';
			if (!letters && !(label_len > 4 && strncmp(tld, "xn--", 4) == 0))
				return false;
		}
		label_start = i + 1;
	}
	return nlabels >= 2;
}

char *
LsNormalizeEmail(const char *str, int len)
{
	const char *start = str;
	const char *end = str + len;
	char *out;
	int n;
	int at = -1;

	TrimSpace(&start, &end);
	n = end - start;
	if (n < 3 || n > EMAIL_MAX_LEN)
		return NULL;
	out = palloc(n + 1);
	for (int i = 0; i < n; i++)
	{
		char c = start[i];

		if (IS_HIGHBIT_SET(c))
			return NULL; /* non-ASCII: see the file header */
		if (c == '@')
		{
			if (at >= 0)
				return NULL;
			at = i;
		}
		out[i] = pg_ascii_tolower((unsigned char) c);
	}
	out[n] = '\0';
	if (at < 0 || !ValidLocalPart(out, at) || !ValidDomain(out + at + 1, n - at - 1))
	{
		pfree(out);
		return NULL;
	}
	return out;
}

/* Fills code_index: phone_codes position + 1 for each code, 0 where unassigned. */
static void
BuildCodeIndex(void)
{
	memset(code_index, 0, sizeof(code_index));
	for (int i = 0; i < lengthof(phone_codes); i++)
	{
		const char *code = phone_codes[i].code;

		code_index[strlen(code)][atoi(code)] = i + 1;
	}
	code_index_built = true;
}

/* The entry for the calling code digits[0..len), or NULL when it is not assigned. */
static const PhoneCountry *
CodeLookup(const char *digits, int len)
{
	int value = 0;

	if (len < 1 || len > 3)
		return NULL;
	if (!code_index_built)
		BuildCodeIndex();
	for (int i = 0; i < len; i++)
	{
		if (digits[i] < '0' || digits[i] > '9')
			return NULL;
		value = value * 10 + (digits[i] - '0');
	}
	return code_index[len][value] ? &phone_codes[code_index[len][value] - 1] : NULL;
}

const PhoneCountry *
LsPhoneCountry(const char *text, bool missing_ok)
{
	const char *start = text;
	const char *end = text + strlen(text);
	const char *s;
	int len;
	const PhoneCountry *found = NULL;

	TrimSpace(&start, &end);
	s = start;
	len = end - start;
	if (len > 0 && s[0] == '+')
	{
		s++;
		len--;
		found = CodeLookup(s, len);
	}
	else if (len >= 1 && len <= 3 && s[0] >= '0' && s[0] <= '9')
		found = CodeLookup(s, len);
	else if (len == 2)
	{
		char iso[3] = {pg_ascii_toupper((unsigned char) s[0]),
					   pg_ascii_toupper((unsigned char) s[1]), '\0'};

		for (int i = 0; i < lengthof(iso_countries); i++)
			if (strcmp(iso_countries[i].iso, iso) == 0)
				found = CodeLookup(iso_countries[i].code, strlen(iso_countries[i].code));
	}
	if (found == NULL && !missing_ok)
		ereport(
			ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown default phone country \"%.*s\"", COUNTRY_QUOTE_MAX, text),
			 errdetail("A default country is an assigned ITU-T calling code, with or without "
					   "'+', or one of the ISO 3166 alpha-2 codes listed in the documentation."),
			 errhint("Use a calling code such as '7', '+7', '44' or '380', or a country code "
					 "such as 'RU', 'US', 'GB' or 'DE'; normalize_phone(text) and "
					 "is_valid_phone(text) take no default country.")));
	return found;
}

/*
 * Length of an extension marker at p ("ext", "ext.", "extn", "extension",
 * "x", "#", ",", ";", Russian "доб"), case-insensitive, or 0.
 */
static int
ExtensionMarkerLen(const char *p, const char *end)
{
	static const char *const markers[] = {
		"extension",
		"extn",
		"ext",
		"x",
		"#",
		",",
		";",
		"\xD0\xB4\xD0\xBE\xD0\xB1", /* доб */
		"\xD0\x94\xD0\xBE\xD0\xB1", /* Доб */
		"\xD0\x94\xD0\x9E\xD0\x91", /* ДОБ */
	};

	for (int i = 0; i < lengthof(markers); i++)
	{
		int mlen = strlen(markers[i]);

		if (IS_HIGHBIT_SET(markers[i][0]) && GetDatabaseEncoding() != PG_UTF8)
			continue;
		if (end - p >= mlen && pg_strncasecmp(p, markers[i], mlen) == 0)
			return mlen;
	}
	return 0;
}

/* Whether [p, end) is a valid extension body: optional '.', ':' and spaces, then 1–8 digits. */
static bool
ValidExtension(const char *p, const char *end)
{
	int ndigits = 0;
	int k;

	while (p < end)
	{
		if (*p == '.' || *p == ':' || *p == ',' || *p == ';' || *p == '#')
			p++;
		else if ((k = SpaceLen(p, end)) > 0)
			p += k;
		else
			break;
	}
	while (p < end && *p >= '0' && *p <= '9')
	{
		ndigits++;
		p++;
	}
	while (p < end && (k = SpaceLen(p, end)) > 0)
		p += k;
	return p == end && ndigits >= 1 && ndigits <= PHONE_EXT_MAX_DIGITS;
}

/*
 * Reads the digits of a written phone number: digits, an optional leading
 * '+', separators (spaces, - . / and one level of parentheses) and an optional
 * trailing extension, which is dropped.  False when anything else is found.
 */
static bool
ParsePhone(const char *str, int len, PhoneDigits *pd)
{
	const char *p = str;
	const char *end = str + len;
	int group_start = -1;
	int k;

	pd->ndigits = 0;
	pd->plus = false;
	pd->zero_group = -1;
	pd->first_group = -1;
	TrimSpace(&p, &end);
	while (p < end)
	{
		char c = *p;

		if (c >= '0' && c <= '9')
		{
			if (pd->ndigits >= PHONE_MAX_DIGITS)
				return false;
			pd->digits[pd->ndigits++] = c;
			p++;
		}
		else if (c == '+')
		{
			if (pd->plus || pd->ndigits > 0)
				return false;
			pd->plus = true;
			p++;
		}
		else if (c == '(')
		{
			if (group_start >= 0)
				return false;
			group_start = pd->ndigits;
			if (pd->first_group < 0)
				pd->first_group = pd->ndigits;
			p++;
		}
		else if (c == ')')
		{
			if (group_start < 0)
				return false;
			if (pd->ndigits == group_start + 1 && pd->digits[group_start] == '0' && group_start > 0)
				pd->zero_group = group_start;
			group_start = -1;
			p++;
		}
		else if (c == '-' || c == '.' || c == '/')
			p++;
		else if ((k = SpaceLen(p, end)) > 0 || (k = Utf8SeparatorLen(p, end)) > 0)
			p += k;
		else if (pd->ndigits > 0 && group_start < 0 && (k = ExtensionMarkerLen(p, end)) > 0)
			return ValidExtension(p + k, end);
		else
			return false;
	}
	pd->digits[pd->ndigits] = '\0';
	return group_start < 0 && pd->ndigits > 0;
}

/*
 * Whether nsn[0..len) is a plausible national significant number under
 * country's plan (the E.164 total of 8–15 digits always applies).
 */
static bool
NsnFits(const PhoneCountry *country, const char *nsn, int len)
{
	int total = strlen(country->code) + len;

	if (len < 1 || total < E164_MIN_DIGITS || total > E164_MAX_DIGITS)
		return false;
	if (country->min_nsn == 0)
		return true;
	if (len < country->min_nsn || len > country->max_nsn)
		return false;
	if (nsn[0] == '0' && !country->leading_zero)
		return false;
	if (country->nanp && (nsn[0] < '2' || nsn[3] < '2'))
		return false; /* area code and exchange begin with 2–9 */
	return true;
}

/* "+" code nsn, palloc'd. */
static char *
E164(const PhoneCountry *country, const char *nsn, int len)
{
	return psprintf("+%s%.*s", country->code, len, nsn);
}

/*
 * Reads digits[from..] as an international number: calling code, then the
 * national significant number, from which a "(0)" group or a trunk prefix
 * written after the code is dropped when the number only fits without it.
 */
static char *
International(const PhoneDigits *pd, int from)
{
	const char *d = pd->digits + from;
	int n = pd->ndigits - from;
	const PhoneCountry *country = NULL;
	char nsn[PHONE_MAX_DIGITS + 1];
	int nsn_len = 0;
	int code_len;
	bool drop_zero_group;

	for (code_len = 1; code_len <= 3 && code_len < n && country == NULL; code_len++)
		country = CodeLookup(d, code_len);
	if (country == NULL)
		return NULL;
	code_len = strlen(country->code);
	/* "+44 (0)20 …": the (0) is the trunk prefix, shown for national callers (not in Italy) */
	drop_zero_group = country->min_nsn == 0 || !country->leading_zero;
	for (int i = code_len; i < n; i++)
		if (!(drop_zero_group && i == code_len && from + i == pd->zero_group))
			nsn[nsn_len++] = d[i];
	nsn[nsn_len] = '\0';

	if (!NsnFits(country, nsn, nsn_len))
	{
		for (int t = 0; t < lengthof(country->trunk) && country->trunk[t]; t++)
		{
			int tlen = strlen(country->trunk[t]);

			if (strncmp(nsn, country->trunk[t], tlen) == 0 &&
				NsnFits(country, nsn + tlen, nsn_len - tlen))
				return E164(country, nsn + tlen, nsn_len - tlen);
		}
		return NULL;
	}
	return E164(country, nsn, nsn_len);
}

/*
 * Reads digits as a number of the default country: with its trunk prefix,
 * with its calling code but no '+', or as the bare national number, in that
 * order of preference.  When the digits before a parenthesised area code are
 * a trunk prefix ("8 (999) …", "1 (415) …") only the first reading applies.
 */
static char *
National(const PhoneDigits *pd, const PhoneCountry *country)
{
	const char *d = pd->digits;
	int n = pd->ndigits;
	int code_len = strlen(country->code);
	bool trunk_written = false;

	for (int t = 0; t < lengthof(country->trunk) && country->trunk[t]; t++)
	{
		int tlen = strlen(country->trunk[t]);

		if (strncmp(d, country->trunk[t], tlen) != 0)
			continue;
		if (NsnFits(country, d + tlen, n - tlen))
			return E164(country, d + tlen, n - tlen);
		if (pd->first_group == tlen)
			trunk_written = true;
	}
	if (trunk_written)
		return NULL;
	if (strncmp(d, country->code, code_len) == 0 && NsnFits(country, d + code_len, n - code_len))
		return E164(country, d + code_len, n - code_len);
	if (NsnFits(country, d, n))
		return E164(country, d, n);
	return NULL;
}

char *
LsNormalizePhone(const char *str, int len, const PhoneCountry *dflt)
{
	PhoneDigits pd;

	if (!ParsePhone(str, len, &pd))
		return NULL;
	if (pd.plus)
		return International(&pd, 0);
	if (dflt != NULL)
	{
		for (int i = 0; i < lengthof(dflt->idd) && dflt->idd[i]; i++)
		{
			int ilen = strlen(dflt->idd[i]);

			if (strncmp(pd.digits, dflt->idd[i], ilen) == 0)
				return International(&pd, ilen);
		}
	}
	if (strncmp(pd.digits, "00", 2) == 0)
		return International(&pd, 2);
	if (dflt == NULL)
		return NULL;
	return National(&pd, dflt);
}

/* normalize_email(text) → text: trimmed, lower-cased address, NULL when implausible. */
Datum
normalize_email(PG_FUNCTION_ARGS)
{
	text *in = PG_GETARG_TEXT_PP(0);
	char *out = LsNormalizeEmail(VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in));

	if (out == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/* is_valid_email(text) → bool: whether normalize_email would return an address. */
Datum
is_valid_email(PG_FUNCTION_ARGS)
{
	text *in = PG_GETARG_TEXT_PP(0);

	PG_RETURN_BOOL(LsNormalizeEmail(VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in)) != NULL);
}

/*
 * The E.164 form of argument 0, with argument 1 (when given) as the default
 * country.  Shared by the one- and two-argument SQL functions.
 */
static char *
NormalizePhoneArgs(FunctionCallInfo fcinfo)
{
	text *in = PG_GETARG_TEXT_PP(0);
	const PhoneCountry *dflt = NULL;

	if (PG_NARGS() > 1)
		dflt = LsPhoneCountry(text_to_cstring(PG_GETARG_TEXT_PP(1)), false);
	return LsNormalizePhone(VARDATA_ANY(in), VARSIZE_ANY_EXHDR(in), dflt);
}

/* normalize_phone(text [, default_country text]) → text: E.164, NULL when impossible. */
Datum
normalize_phone(PG_FUNCTION_ARGS)
{
	char *out = NormalizePhoneArgs(fcinfo);

	if (out == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/* is_valid_phone(text [, default_country text]) → bool: whether normalize_phone gives a number. */
Datum
is_valid_phone(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(NormalizePhoneArgs(fcinfo) != NULL);
}

/* A text[] of the leading non-NULL strings of list[0..n), then extra when not NULL. */
static Datum
StringArray(const char *const *list, int n, const char *extra)
{
	Datum elems[6];
	int count = 0;

	Assert(n < lengthof(elems));
	for (int i = 0; i < n && list[i]; i++)
		elems[count++] = CStringGetTextDatum(list[i]);
	if (extra != NULL)
		elems[count++] = CStringGetTextDatum(extra);
	if (count == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));
	return PointerGetDatum(construct_array(elems, count, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * phone_countries() → table(country, calling_code, national_prefixes,
 * international_prefixes, min_digits, max_digits): the ISO 3166 codes
 * accepted as a default country and the numbering rules applied to them
 * (international prefixes include the universal 00).
 */
Datum
phone_countries(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcontext;
		TupleDesc tupdesc;

		funcctx = SRF_FIRSTCALL_INIT();
		oldcontext = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							errmsg("function returning record called in context that cannot "
								   "accept type record")));
		funcctx->tuple_desc = BlessTupleDesc(tupdesc);
		funcctx->max_calls = lengthof(iso_countries);
		MemoryContextSwitchTo(oldcontext);
	}
	funcctx = SRF_PERCALL_SETUP();
	if (funcctx->call_cntr < funcctx->max_calls)
	{
		const IsoCountry *iso = &iso_countries[funcctx->call_cntr];
		const PhoneCountry *country = CodeLookup(iso->code, strlen(iso->code));
		Datum values[6];
		bool nulls[6] = {false};

		if (country == NULL)
			elog(ERROR, "calling code %s of country %s is not in the code table", iso->code,
				 iso->iso);
		values[0] = CStringGetTextDatum(iso->iso);
		values[1] = CStringGetTextDatum(country->code);
		values[2] = StringArray(country->trunk, lengthof(country->trunk), NULL);
		values[3] = StringArray(country->idd, lengthof(country->idd), "00");
		values[4] = Int32GetDatum(country->min_nsn);
		values[5] = Int32GetDatum(country->max_nsn);
		SRF_RETURN_NEXT(funcctx,
						HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc, values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}

bool
ContactEmailIsValid(const char *str)
{
	return LsNormalizeEmail(str, strlen(str)) != NULL;
}

bool
ContactPhoneIsValid(const char *str, const char *default_country)
{
	const PhoneCountry *dflt = default_country ? LsPhoneCountry(default_country, false) : NULL;

	return LsNormalizePhone(str, strlen(str), dflt) != NULL;
}
