//! Sockets: creation, connect, bind/listen/accept, options and addresses.
//!
//! # Invariants
//! - Every socket made here is `SOCK_NONBLOCK | SOCK_CLOEXEC` (accepted ones too, by
//!   `accept4`).
//! - A [`SockAddr`]'s `len` never exceeds the size of its storage, and the storage holds a
//!   valid address of the family its first field names.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

/// An address in the kernel's form: `sockaddr_storage` and its length.
#[derive(Clone, Copy)]
pub(crate) struct SockAddr {
    /// Big enough for any family; the first `len` bytes are the address.
    storage: libc::sockaddr_storage,
    /// How many bytes of `storage` the address uses.
    len: libc::socklen_t,
}

impl std::fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.as_inet() {
            Some(addr) => addr.fmt(f),
            None => f.write_str("SockAddr(unix)"),
        }
    }
}

impl SockAddr {
    /// An all-zero address with the full storage length, for the kernel to fill.
    fn empty() -> SockAddr {
        SockAddr {
            // SAFETY: sockaddr_storage is plain data; all-zero is a valid (AF_UNSPEC) value.
            storage: unsafe { std::mem::zeroed() },
            len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// The address family (`AF_INET`, `AF_INET6`, `AF_UNIX`).
    pub(crate) fn family(&self) -> libc::c_int {
        self.storage.ss_family as libc::c_int
    }

    /// An IPv4 or IPv6 address in kernel form.
    pub(crate) fn from_inet(addr: SocketAddr) -> SockAddr {
        let mut out = SockAddr::empty();
        let ptr = (&mut out.storage as *mut libc::sockaddr_storage).cast::<u8>();
        match addr {
            SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { ptr.cast::<libc::sockaddr_in>().write(sin) };
                out.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe { ptr.cast::<libc::sockaddr_in6>().write(sin6) };
                out.len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        out
    }

    /// A Unix-domain path address; errors if the path does not fit `sun_path` or has a NUL.
    pub(crate) fn from_path(path: &Path) -> io::Result<SockAddr> {
        let bytes = path.as_os_str().as_bytes();
        let mut out = SockAddr::empty();
        // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_un, and we hold
        // the only reference to `out.storage` while `sun` lives.
        let sun = unsafe {
            &mut *(&mut out.storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_un>()
        };
        if bytes.len() >= sun.sun_path.len() || bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "unix socket path too long or contains NUL",
            ));
        }
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, src) in sun.sun_path.iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        let base = size_of::<libc::sa_family_t>();
        out.len = (base + bytes.len() + 1) as libc::socklen_t;
        Ok(out)
    }

    /// The IPv4/IPv6 address, or `None` for other families.
    pub(crate) fn as_inet(&self) -> Option<SocketAddr> {
        let ptr = (&self.storage as *const libc::sockaddr_storage).cast::<u8>();
        match self.family() {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in; storage is
                // larger than and aligned for it.
                let sin = unsafe { &*ptr.cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6; storage is
                // larger than and aligned for it.
                let sin6 = unsafe { &*ptr.cast::<libc::sockaddr_in6>() };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                let port = u16::from_be(sin6.sin6_port);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    port,
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    /// The filesystem path of a Unix-domain address; `None` for other families and for
    /// unnamed or abstract sockets.
    pub(crate) fn as_path(&self) -> Option<std::path::PathBuf> {
        if self.family() != libc::AF_UNIX {
            return None;
        }
        // SAFETY: the family says the storage holds a sockaddr_un; storage is larger than and
        // aligned for it.
        let sun = unsafe {
            &*(&self.storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_un>()
        };
        let base = size_of::<libc::sa_family_t>();
        let len = (self.len as usize)
            .saturating_sub(base)
            .min(sun.sun_path.len());
        let bytes: Vec<u8> = sun.sun_path[..len].iter().map(|&c| c as u8).collect();
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        if end == 0 {
            return None; // unnamed, or abstract (leading NUL)
        }
        let path = std::ffi::OsStr::from_bytes(&bytes[..end]);
        Some(std::path::PathBuf::from(path))
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }
}

/// The Unix-domain address family, for [`stream_socket`].
pub(crate) const AF_UNIX: libc::c_int = libc::AF_UNIX;

/// A new non-blocking, close-on-exec stream socket of `family`.
pub(crate) fn stream_socket(family: libc::c_int) -> io::Result<OwnedFd> {
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: no pointers; the arguments are valid constants.
    let fd = syscall!(socket(family, ty, 0))?;
    Ok(super::owned(fd))
}

/// Starts connecting. `Ok(true)`: connected; `Ok(false)`: in progress (`EINPROGRESS` or
/// `EINTR`; wait for writable, then check [`take_error`]).
pub(crate) fn connect(fd: BorrowedFd<'_>, addr: &SockAddr) -> io::Result<bool> {
    // SAFETY: `addr` points at `len` valid bytes of a sockaddr for the call. Not restarted on
    // EINTR: the connection then proceeds asynchronously, like EINPROGRESS.
    match syscall!(once connect(fd.as_raw_fd(), addr.as_ptr(), addr.len)) {
        Ok(_) => Ok(true),
        Err(err) if matches!(err.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR)) => {
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// Binds `fd` to `addr`.
pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: `addr` points at `len` valid bytes of a sockaddr for the call.
    syscall!(bind(fd.as_raw_fd(), addr.as_ptr(), addr.len))?;
    Ok(())
}

/// Marks `fd` as listening with the given backlog.
pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: i32) -> io::Result<()> {
    // SAFETY: no pointers.
    syscall!(listen(fd.as_raw_fd(), backlog))?;
    Ok(())
}

/// Accepts one connection as a non-blocking, close-on-exec socket, with its peer address.
pub(crate) fn accept(fd: BorrowedFd<'_>) -> io::Result<(OwnedFd, SockAddr)> {
    let mut addr = SockAddr::empty();
    let ptr = (&mut addr.storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr>();
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: `ptr`/`addr.len` describe writable storage of that size; the kernel writes at
    // most `len` bytes and stores the real length back.
    let new = syscall!(accept4(fd.as_raw_fd(), ptr, &mut addr.len, flags))?;
    Ok((super::owned(new), addr))
}

/// The address `fd` is bound to.
pub(crate) fn local_addr(fd: BorrowedFd<'_>) -> io::Result<SockAddr> {
    let mut addr = SockAddr::empty();
    let ptr = (&mut addr.storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr>();
    // SAFETY: `ptr`/`addr.len` describe writable storage of that size.
    syscall!(getsockname(fd.as_raw_fd(), ptr, &mut addr.len))?;
    Ok(addr)
}

/// The address of `fd`'s peer.
pub(crate) fn peer_addr(fd: BorrowedFd<'_>) -> io::Result<SockAddr> {
    let mut addr = SockAddr::empty();
    let ptr = (&mut addr.storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr>();
    // SAFETY: `ptr`/`addr.len` describe writable storage of that size.
    syscall!(getpeername(fd.as_raw_fd(), ptr, &mut addr.len))?;
    Ok(addr)
}

fn setsockopt<T: Copy>(fd: BorrowedFd<'_>, level: i32, name: i32, value: T) -> io::Result<()> {
    let ptr = (&value as *const T).cast();
    // SAFETY: `ptr` points at `size_of::<T>()` readable bytes for the call; every caller
    // passes the type the option expects.
    syscall!(setsockopt(
        fd.as_raw_fd(),
        level,
        name,
        ptr,
        size_of::<T>() as libc::socklen_t
    ))?;
    Ok(())
}

fn getsockopt<T: Copy>(fd: BorrowedFd<'_>, level: i32, name: i32) -> io::Result<T> {
    let mut value = MaybeUninit::<T>::zeroed();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is writable storage of `len` bytes for the call.
    syscall!(getsockopt(
        fd.as_raw_fd(),
        level,
        name,
        value.as_mut_ptr().cast(),
        &mut len
    ))?;
    // SAFETY: zero-initialised and then (partly) written by the kernel; every caller uses
    // an integer or plain-data type for which any bit pattern is valid.
    Ok(unsafe { value.assume_init() })
}

/// Reads and clears the pending socket error (`SO_ERROR`).
pub(crate) fn take_error(fd: BorrowedFd<'_>) -> io::Result<Option<io::Error>> {
    let code: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR)?;
    Ok((code != 0).then(|| io::Error::from_raw_os_error(code)))
}

/// Sets or clears `TCP_NODELAY`.
pub(crate) fn set_nodelay(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, on as libc::c_int)
}

/// Whether `TCP_NODELAY` is set.
pub(crate) fn nodelay(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let v: libc::c_int = getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY)?;
    Ok(v != 0)
}

/// Sets or clears `SO_KEEPALIVE`.
pub(crate) fn set_keepalive(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, on as libc::c_int)
}

/// Sets `SO_REUSEADDR` (listeners, so a restarted server can rebind at once).
pub(crate) fn set_reuseaddr(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, on as libc::c_int)
}

/// Sets `SO_SNDBUF` (the kernel doubles it and applies a minimum).
pub(crate) fn set_send_buffer_size(fd: BorrowedFd<'_>, size: usize) -> io::Result<()> {
    let size = size.min(libc::c_int::MAX as usize) as libc::c_int;
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, size)
}

/// Sets `SO_RCVBUF` (the kernel doubles it and applies a minimum).
pub(crate) fn set_recv_buffer_size(fd: BorrowedFd<'_>, size: usize) -> io::Result<()> {
    let size = size.min(libc::c_int::MAX as usize) as libc::c_int;
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, size)
}

/// The effective `SO_SNDBUF`.
pub(crate) fn send_buffer_size(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let v: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF)?;
    Ok(v.max(0) as usize)
}

/// The effective `SO_RCVBUF`.
pub(crate) fn recv_buffer_size(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let v: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF)?;
    Ok(v.max(0) as usize)
}

/// Sets `SO_LINGER`; `Some(ZERO)` makes `close` send a reset.
pub(crate) fn set_linger(fd: BorrowedFd<'_>, linger: Option<Duration>) -> io::Result<()> {
    let value = libc::linger {
        l_onoff: linger.is_some() as libc::c_int,
        l_linger: linger.map_or(0, |d| {
            d.as_secs().min(libc::c_int::MAX as u64) as libc::c_int
        }),
    };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, value)
}

/// A connected pair of non-blocking Unix stream sockets, for unit tests.
#[cfg(test)]
pub(crate) fn pair_for_tests() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: `fds` is writable storage for the two fds.
    syscall!(socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()))?;
    Ok((super::owned(fds[0]), super::owned(fds[1])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn inet_addresses_round_trip() {
        for s in ["127.0.0.1:8080", "[::1]:443", "[fe80::1%2]:1"] {
            let addr: SocketAddr = s.parse().unwrap();
            assert_eq!(SockAddr::from_inet(addr).as_inet(), Some(addr));
        }
    }

    #[test]
    fn unix_path_too_long_is_an_error() {
        let long = "x".repeat(200);
        assert!(SockAddr::from_path(Path::new(&long)).is_err());
        let unix = SockAddr::from_path(Path::new("/tmp/s")).unwrap();
        assert_eq!(unix.family(), libc::AF_UNIX);
        assert_eq!(unix.as_path().as_deref(), Some(Path::new("/tmp/s")));
        assert_eq!(unix.as_inet(), None);
    }

    #[test]
    fn loopback_connect_accept_and_options() {
        let lst = stream_socket(libc::AF_INET).unwrap();
        set_reuseaddr(lst.as_fd(), true).unwrap();
        bind(
            lst.as_fd(),
            &SockAddr::from_inet("127.0.0.1:0".parse().unwrap()),
        )
        .unwrap();
        listen(lst.as_fd(), 16).unwrap();
        let addr = local_addr(lst.as_fd()).unwrap();
        let cli = stream_socket(libc::AF_INET).unwrap();
        let _ = connect(cli.as_fd(), &addr).unwrap();
        // Loopback completes the handshake promptly; poll until accept succeeds.
        let (srv, peer) = loop {
            match accept(lst.as_fd()) {
                Ok(x) => break x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(peer.as_inet(), local_addr(cli.as_fd()).unwrap().as_inet());
        assert!(take_error(cli.as_fd()).unwrap().is_none());
        set_nodelay(cli.as_fd(), true).unwrap();
        assert!(nodelay(cli.as_fd()).unwrap());
        set_keepalive(srv.as_fd(), true).unwrap();
        set_send_buffer_size(srv.as_fd(), 4096).unwrap();
        assert!(send_buffer_size(srv.as_fd()).unwrap() >= 4096);
        set_recv_buffer_size(srv.as_fd(), 4096).unwrap();
        assert!(recv_buffer_size(srv.as_fd()).unwrap() >= 4096);
        set_linger(srv.as_fd(), Some(Duration::ZERO)).unwrap();
        assert_eq!(peer_addr(srv.as_fd()).unwrap().as_inet(), peer.as_inet());
    }
}
