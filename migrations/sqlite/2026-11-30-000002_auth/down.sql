DROP TABLE settings;
DROP TABLE api_keys;
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE admins;
