/*
 * contact.h — email and phone plausibility checks and normalisation, shared by
 * the SQL-callable functions in contact.c and the rule predicates
 * (valid_email, invalid_email, valid_phone, invalid_phone).
 */
#ifndef LS_CONTACT_H
#define LS_CONTACT_H

#include "postgres.h"

/* Longest email address accepted, in octets (RFC 5321 path limit minus the angle brackets). */
#define EMAIL_MAX_LEN 254

/* Numbering rules of one country calling code; opaque outside contact.c. */
typedef struct PhoneCountry PhoneCountry;

/*
 * The normalised (trimmed, lower-cased) form of an email address, palloc'd, or
 * NULL when the text is not a plausible address.
 */
extern char *LsNormalizeEmail(const char *str, int len);

/*
 * The numbering rules for a default-country text: a calling code ('7', '+44')
 * or an ISO 3166 alpha-2 code ('RU', 'gb').  Unknown text is an ERROR
 * (SQLSTATE 22023) unless missing_ok, in which case NULL is returned.
 */
extern const PhoneCountry *LsPhoneCountry(const char *text, bool missing_ok);

/*
 * The E.164 form ('+' and 8–15 digits) of a phone number, palloc'd, or NULL
 * when the text cannot be a phone number.  dflt (may be NULL) is the country
 * assumed for numbers written without an international prefix.
 */
extern char *LsNormalizePhone(const char *str, int len, const PhoneCountry *dflt);

/* Rule predicates: whether a text is a plausible email / phone number (default_country may be
 * NULL). */
extern bool ContactEmailIsValid(const char *str);
extern bool ContactPhoneIsValid(const char *str, const char *default_country);

#endif /* LS_CONTACT_H */
