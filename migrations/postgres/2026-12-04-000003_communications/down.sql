DROP TABLE communication_events;
DROP TABLE communications;
