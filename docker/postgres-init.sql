-- One database per region on the shared server.
CREATE DATABASE guangdong OWNER certseal;
CREATE DATABASE shanghai OWNER certseal;
