DROP TABLE department_rules;
DROP TABLE favorite_sources;
DROP TABLE departments;
DROP TABLE communication_sources;
DROP TABLE communication_types;
DROP TABLE user_availability;
DROP TABLE users;
