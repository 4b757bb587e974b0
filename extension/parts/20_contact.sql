
-- ---------------------------------------------------------------------------
-- Data quality: email and phone plausibility and normalisation (src/contact.c,
-- rules in doc/data_quality.md).
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.normalize_email(email text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.normalize_email(text) IS
    'The address trimmed and lower-cased, or NULL when it is not a plausible email address '
    '(one @, ASCII dot-atom local part of at most 64 octets, host name with a letter TLD, at most 254 octets)';

CREATE FUNCTION @extschema@.is_valid_email(email text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_valid_email(text) IS
    'Whether normalize_email() accepts the address';

CREATE FUNCTION @extschema@.normalize_phone(phone text, default_country text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.normalize_phone(text, text) IS
    'The number in E.164 form (+ and 8-15 digits), or NULL when it cannot be a phone number; numbers without '
    'an international prefix belong to default_country, a calling code (''7'', ''+44'') or an ISO 3166 '
    'alpha-2 code (''RU'', ''GB''); an unknown default_country is an error. Extensions are dropped.';

CREATE FUNCTION @extschema@.normalize_phone(phone text) RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.normalize_phone(text) IS
    'The number in E.164 form (+ and 8-15 digits), or NULL; without a default country only numbers written '
    'with + or 00 are accepted. Extensions are dropped.';

CREATE FUNCTION @extschema@.is_valid_phone(phone text, default_country text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_valid_phone(text, text) IS
    'Whether normalize_phone(phone, default_country) returns a number';

CREATE FUNCTION @extschema@.is_valid_phone(phone text) RETURNS boolean
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_valid_phone(text) IS
    'Whether normalize_phone(phone) (no default country) returns a number';

CREATE FUNCTION @extschema@.phone_countries(
        OUT country text, OUT calling_code text, OUT national_prefixes text[],
        OUT international_prefixes text[], OUT min_digits integer, OUT max_digits integer)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 70;
COMMENT ON FUNCTION @extschema@.phone_countries() IS
    'The ISO 3166 alpha-2 codes accepted as a default phone country, with the numbering rules applied: '
    'national (trunk) prefixes, international prefixes besides 00, and the length of the national number';
