-- Data quality: normalize_email, is_valid_email, normalize_phone, is_valid_phone.
-- Each table below is the documentation of a rule: input → normalized, valid.
CREATE EXTENSION lead_scoring;
SET search_path = lead_scoring, public;

-- All of them are C, IMMUTABLE STRICT PARALLEL SAFE.
SELECT p.oid::regprocedure AS function, l.lanname, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = 'lead_scoring'::regnamespace
  AND p.proname IN ('normalize_email', 'is_valid_email', 'normalize_phone', 'is_valid_phone', 'phone_countries')
ORDER BY 1::text;

-- ---------------------------------------------------------------------------
-- Email
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE email_case (n serial, note text, input text);
INSERT INTO email_case (note, input) VALUES
    ('plain',                          'john.doe@example.com'),
    ('upper case is folded',           'John.Doe@Example.COM'),
    ('surrounding spaces trimmed',     '   anna@example.org  '),
    ('tab and newline trimmed',        E'\tbob@example.net\n'),
    ('no-break space trimmed (UTF-8)', E'\u00a0eve@example.com\u00a0'),
    ('plus sub-address kept',          'john+crm@gmail.com'),
    ('dots in local part kept',        'j.o.h.n@gmail.com'),
    ('atext specials',                 'o''brien-x_y!#$%&*/=?^`{|}~@example.ie'),
    ('digits only local part',         '12345@example.com'),
    ('subdomains',                     'sales@mail.eu.example.co.uk'),
    ('hyphen inside a label',          'info@my-company.de'),
    ('digit labels',                   'x@123.example.com'),
    ('long TLD',                       'hello@startup.technology'),
    ('punycode domain and TLD',        'info@xn--80a1acny.xn--p1ai'),
    ('one-letter local part',          'a@b.co'),
    ('64-octet local part',            repeat('a', 64) || '@example.com'),
    ('254 octets in all',              repeat('a', 64) || '@' || repeat('b', 63) || '.' || repeat('c', 63) || '.' || repeat('d', 57) || '.com'),
    ('65-octet local part',            repeat('a', 65) || '@example.com'),
    ('255 octets in all',              repeat('a', 64) || '@' || repeat('b', 63) || '.' || repeat('c', 63) || '.' || repeat('d', 58) || '.com'),
    ('64-octet label',                 'x@' || repeat('b', 64) || '.com'),
    ('empty string',                   ''),
    ('only spaces',                    '   '),
    ('no @',                           'john.doe.example.com'),
    ('two @',                          'john@doe@example.com'),
    ('empty local part',               '@example.com'),
    ('empty domain',                   'john@'),
    ('domain without a dot',           'john@localhost'),
    ('one-letter TLD',                 'john@example.c'),
    ('numeric TLD',                    'john@example.123'),
    ('TLD with a digit',               'john@example.c0m'),
    ('trailing dot in domain',         'john@example.com.'),
    ('leading dot in domain',          'john@.example.com'),
    ('consecutive dots in domain',     'john@example..com'),
    ('label starts with hyphen',       'john@-example.com'),
    ('label ends with hyphen',         'john@example-.com'),
    ('underscore in domain',           'john@my_company.com'),
    ('leading dot in local part',      '.john@example.com'),
    ('trailing dot in local part',     'john.@example.com'),
    ('consecutive dots in local part', 'john..doe@example.com'),
    ('space inside',                   'john doe@example.com'),
    ('comma for dot',                  'john@example,com'),
    ('quoted local part',              '"john doe"@example.com'),
    ('display name',                   'John Doe <john@example.com>'),
    ('angle brackets',                 '<john@example.com>'),
    ('mailto: prefix',                 'mailto:john@example.com'),
    ('address literal',                'john@[192.168.0.1]'),
    ('comment',                        'john(work)@example.com'),
    ('Cyrillic local part and IDN',    'иван@почта.рф'),
    ('accented local part',            'josé@example.com'),
    ('IDN domain in Unicode',          'info@bücher.de'),
    ('semicolon list',                 'a@example.com;b@example.com'),
    ('only punctuation',               '@.'),
    ('placeholder junk',               'n/a'),
    ('two addresses',                  'a@example.com b@example.com');

-- Shown with tabs and newlines escaped and long values abbreviated (the octet count in brackets).
CREATE FUNCTION pg_temp.show(s text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN octet_length(s) > 40
                THEN left(s, 12) || '…' || right(s, 12) || ' (' || octet_length(s) || ')'
                ELSE replace(replace(replace(s, E'\t', '\t'), E'\n', '\n'), E'\u00a0', '\u00a0') END
$$;
SELECT n, note, pg_temp.show(input) AS input, pg_temp.show(normalize_email(input)) AS normalized,
       is_valid_email(input) AS valid
FROM email_case ORDER BY n;

SELECT count(*) AS email_cases, count(*) FILTER (WHERE is_valid_email(input)) AS valid,
       count(*) FILTER (WHERE NOT is_valid_email(input)) AS invalid
FROM email_case;

-- is_valid_email agrees with normalize_email; normalizing is idempotent and never lengthens.
SELECT count(*) AS disagreements
FROM email_case
WHERE is_valid_email(input) IS DISTINCT FROM (normalize_email(input) IS NOT NULL)
   OR normalize_email(normalize_email(input)) IS DISTINCT FROM normalize_email(input)
   OR octet_length(normalize_email(input)) > 254;

-- NULL in, NULL out (STRICT).
SELECT normalize_email(NULL) AS normalized, is_valid_email(NULL) AS valid;

-- ---------------------------------------------------------------------------
-- Phone
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE phone_case (n serial, note text, input text, country text);
INSERT INTO phone_case (note, input, country) VALUES
    -- Russia: trunk prefix 8 is replaced by +7
    ('RU trunk 8, parentheses',           '8 (999) 123-45-67',         '7'),
    ('RU trunk 8, parentheses, ISO',      '8 (999) 123-45-67',         'RU'),
    ('RU international',                  '+7 999 123 45 67',          '7'),
    ('RU international, ISO',             '+7 999 123 45 67',          'RU'),
    ('RU dashes',                         '8-999-123-45-67',           '7'),
    ('RU dashes, ISO lower case',         '8-999-123-45-67',           'ru'),
    ('RU digits only',                    '89991234567',               '7'),
    ('RU digits only, ISO',               '89991234567',               'RU'),
    ('RU code without +',                 '79991234567',               '+7'),
    ('RU national number only',           '999 123-45-67',             'RU'),
    ('RU +7 and a stray trunk 8',         '+7 8 (999) 123-45-67',      'RU'),
    ('RU St Petersburg (area 812)',       '8 (812) 123-45-67',         'RU'),
    ('RU toll-free',                      '8 800 555-35-35',           'RU'),
    ('RU brackets round +7',              '(+7) 999 123 45 67',        'RU'),
    ('RU extension "доб."',               '+7 (495) 123-45-67 доб. 123', 'RU'),
    ('RU dialling abroad with 8 10',      '8 10 44 20 7946 0958',      'RU'),
    ('RU dialling abroad with 00',        '00 49 30 1234567',          'RU'),
    ('RU one digit short',                '8 (999) 123-45-6',          'RU'),
    ('RU one digit short, no brackets',   '8-999-123-45-6',            'RU'),
    ('RU one digit too many',             '8 (999) 123-45-678',        'RU'),
    ('RU Unicode dashes, no-break spaces', E'+7\u00a0999\u00a0123\u201345\u201367', 'RU'),
    ('RU with a "tel:" label',            'tel: +7 999 123 45 67',     'RU'),
    ('KZ mobile',                         '8 701 123 4567',            'KZ'),
    ('BY trunk 8 0',                      '8 029 123-45-67',           'BY'),
    ('BY trunk 8, area code in brackets', '8 (029) 123-45-67',         'BY'),
    ('DE area code in brackets',          '(030) 1234567',             'DE'),
    -- United States
    ('US parentheses',                    '(415) 555-2671',            '1'),
    ('US parentheses, ISO',               '(415) 555-2671',            'US'),
    ('US dots',                           '415.555.2671',              'US'),
    ('US trunk 1',                        '1-415-555-2671',            'US'),
    ('US international',                  '+1 (415) 555-2671',         'US'),
    ('US extension "ext."',               '(415) 555-2671 ext. 12',    'US'),
    ('US extension "x"',                  '415-555-2671 x12',          'US'),
    ('US extension "#"',                  '415-555-2671 #12',          'US'),
    ('US extension without digits',       '415-555-2671 ext.',         'US'),
    ('US area code starts with 0',        '(015) 555-2671',            'US'),
    ('US exchange starts with 1',         '(415) 155-2671',            'US'),
    ('US 7 digits, no area code',         '555-2671',                  'US'),
    ('US dialling abroad with 011',       '011 44 20 7946 0958',       'US'),
    ('US vanity number (letters)',        '1-800-FLOWERS',             'US'),
    ('CA Toronto',                        '416 555 0199',              'CA'),
    -- United Kingdom
    ('GB London, trunk 0',                '020 7946 0958',             '44'),
    ('GB London, ISO',                    '020 7946 0958',             'GB'),
    ('GB London, UK alias',               '020 7946 0958',             'UK'),
    ('GB international with (0)',         '+44 (0)20 7946 0958',       'GB'),
    ('GB international with 0',           '+44 020 7946 0958',         'GB'),
    ('GB mobile',                         '07700 900123',              'GB'),
    ('GB 00 prefix',                      '0044 20 7946 0958',         'GB'),
    -- Germany
    ('DE Berlin, trunk 0',                '030 1234567',               '49'),
    ('DE Berlin, slash',                  '030/1234567',               'DE'),
    ('DE mobile',                         '0171 1234567',              'DE'),
    ('DE international with (0)',         '+49 (0)30 1234567',         'DE'),
    ('DE 00 prefix',                      '0049 30 1234567',           'DE'),
    -- France
    ('FR Paris, pairs',                   '01 23 45 67 89',            '33'),
    ('FR mobile, dots',                   '06.12.34.56.78',            'FR'),
    ('FR international',                  '+33 6 12 34 56 78',         'FR'),
    ('FR 00 prefix',                      '0033 6 12 34 56 78',        'FR'),
    ('FR one digit short',                '06 12 34 56 7',             'FR'),
    -- Others
    ('UA Kyiv, trunk 0',                  '044 123 4567',              '380'),
    ('UA international',                  '+380 44 123 4567',          '+380'),
    ('IT Rome keeps its 0',               '06 1234 5678',              'IT'),
    ('IT international keeps its 0',      '+39 06 1234 5678',          'IT'),
    ('ES mobile',                         '612 34 56 78',              'ES'),
    ('NL mobile',                         '06-12345678',               'NL'),
    ('AU dialling abroad with 0011',      '0011 44 20 7946 0958',      'AU'),
    ('JP dialling abroad with 010',       '010 1 415 555 2671',        'JP'),
    ('a code with no described plan',     '0 90 123 45 67',            '998'),
    -- No help from the default country needed
    ('+ wins over the default country',   '+44 20 7946 0958',          'RU'),
    ('00 wins over the default country',  '0033 1 23 45 67 89',        'US'),
    -- Invalid whatever the country
    ('empty string',                      '',                          'RU'),
    ('only spaces',                       '    ',                      'RU'),
    ('only punctuation',                  '()-.+/',                    'RU'),
    ('letters',                           'call me',                   'RU'),
    ('letters mixed in',                  '8 999 12E 45 67',           'RU'),
    ('too short',                         '12345',                     'RU'),
    ('too long',                          '+7 999 123 45 67 89 01 23', 'RU'),
    ('16 digits after +',                 '+1234567890123456',         'RU'),
    ('unassigned calling code',           '+999 1234 5678',            'RU'),
    ('calling code 0',                    '+0 999 123 45 67',          'RU'),
    ('+ in the middle',                   '999+1234567',               'RU'),
    ('two + signs',                       '++7 999 123 45 67',         'RU'),
    ('unbalanced parenthesis',            '8 (999 123-45-67',          'RU'),
    ('nested parentheses',                '8 ((999)) 123-45-67',       'RU'),
    ('two numbers',                       '+7 999 123 45 67, +7 999 765 43 21', 'RU'),
    ('star code',                         '*100#',                     'RU'),
    ('unknown text',                      'n/a',                       'RU');

SELECT n, note, pg_temp.show(input) AS input, country, normalize_phone(input, country) AS normalized,
       is_valid_phone(input, country) AS valid
FROM phone_case ORDER BY n;

SELECT count(*) AS phone_cases, count(*) FILTER (WHERE is_valid_phone(input, country)) AS valid,
       count(*) FILTER (WHERE NOT is_valid_phone(input, country)) AS invalid
FROM phone_case;

-- Every result is E.164; is_valid_phone agrees with normalize_phone; the result normalizes to
-- itself under any default country and under none.
SELECT count(*) AS disagreements
FROM phone_case
WHERE normalize_phone(input, country) !~ '^\+[1-9][0-9]{7,14}$'
   OR is_valid_phone(input, country) IS DISTINCT FROM (normalize_phone(input, country) IS NOT NULL)
   OR normalize_phone(normalize_phone(input, country)) IS DISTINCT FROM normalize_phone(input, country)
   OR normalize_phone(normalize_phone(input, country), 'US') IS DISTINCT FROM normalize_phone(input, country);

-- Without a default country only '+' and '00' numbers are accepted.
SELECT input, normalize_phone(input) AS normalized, is_valid_phone(input) AS valid
FROM (VALUES ('+7 (999) 123-45-67'), ('007 999 123 45 67'), ('+44 (0)20 7946 0958'), ('+1 415 555 2671 ext 3'),
             ('8 (999) 123-45-67'), ('(415) 555-2671'), ('020 7946 0958'), ('79991234567'), (''))
     AS v(input);

-- NULL handling: STRICT, so a NULL number or a NULL default country gives NULL;
-- use the one-argument form when there is no default country.
SELECT normalize_phone(NULL, '7') AS null_number, normalize_phone('+79991234567', NULL) AS null_country,
       is_valid_phone(NULL, '7') AS valid_null_number, is_valid_phone('+79991234567', NULL) AS valid_null_country,
       normalize_phone(NULL) AS null_one_arg, is_valid_phone(NULL) AS valid_null_one_arg;

-- Forms of the default country: calling code with or without '+', ISO code in any case, spaces.
SELECT country, normalize_phone('8 (999) 123-45-67', country) AS normalized
FROM (VALUES ('7'), ('+7'), (' 7 '), ('RU'), ('ru'), ('Ru'), ('KZ')) AS v(country);

-- An unknown default country is an error (SQLSTATE 22023), even for a number written with '+'.
SELECT normalize_phone('8 (999) 123-45-67', 'Russia');
SELECT normalize_phone('+7 999 123 45 67', 'XX');
SELECT is_valid_phone('+7 999 123 45 67', '999');
SELECT normalize_phone('020 7946 0958', '');
SELECT normalize_phone('020 7946 0958', '0044');
DO $$
BEGIN
    PERFORM lead_scoring.normalize_phone('1', 'ZZ');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'SQLSTATE %', SQLSTATE;
END $$;

-- The country table: every ISO code accepted, with its calling code and rules.
SELECT * FROM phone_countries() ORDER BY country;
SELECT count(*) AS countries FROM phone_countries();
-- Each ISO code resolves to its calling code: a national number of the shortest length is
-- read as a number of that country.
SELECT count(*) AS mismatches FROM phone_countries()
WHERE normalize_phone(left('2345678901234', min_digits), country)
      IS DISTINCT FROM '+' || calling_code || left('2345678901234', min_digits);

DROP EXTENSION lead_scoring;
