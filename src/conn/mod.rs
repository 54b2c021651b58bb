//! One HTTP/1.1 connection over one stream; its lifecycle is the generated typestate.
