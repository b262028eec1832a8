// libzmq 4.3.4 (and its master branch) aborts the whole process when accept4 on a bound ipc://
// endpoint fails with EMFILE: ipc_listener_t::accept asserts that errno is one of EAGAIN,
// EWOULDBLOCK, EINTR, ECONNABORTED, EPROTO or ENFILE, and leaves out EMFILE, ENOBUFS and
// ENOMEM, which its tcp_listener_t lists. Its own comment calls running out of resources "valid
// and treated by ignoring the connection". A peer holding enough TCP connections open to use up
// normd's descriptors would otherwise crash it at the next ipc:// connection.
//
// This definition takes the place of libc's accept4 in the normd executable, which exports it
// (Package.swift), so libzmq's calls bind to it. It reports those three shortages as ENFILE,
// the system-wide descriptor shortage, which both callers of accept4 in normd treat as they
// treat the other three (libzmq's listeners, SwiftNIO's accept back-off; the control server
// calls accept): the connection waits in the listen backlog until the resource is free.
#define _GNU_SOURCE
#include <errno.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    long result = syscall(SYS_accept4, fd, address, length, flags);
    if (result < 0 && (errno == EMFILE || errno == ENOBUFS || errno == ENOMEM)) errno = ENFILE;
    return (int)result;
}
