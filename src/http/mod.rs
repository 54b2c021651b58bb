//! Sans-IO HTTP/1.1 framing: knows nothing of sockets, the loop or the clock.
