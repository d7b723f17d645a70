//! `bridge doctor`: checks a configuration against a server.
