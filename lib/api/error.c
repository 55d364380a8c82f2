#include "config.h"
#include "mesh/mesh.h"

const char *mesh_strerror(int err) {
  switch (err) {
    case MESH_OK: return "success";
    case MESH_EINVAL: return "invalid argument";
    case MESH_ENOMEM: return "out of memory";
    case MESH_ESTATE: return "operation not allowed in this state";
    case MESH_EWRONGTHREAD: return "called from a thread other than the event loop's";
    case MESH_ESYSTEM: return "operating system call failed";
    case MESH_ENOTFOUND: return "not found";
    case MESH_ECONFIG: return "invalid configuration";
    case MESH_ECONNECT: return "could not connect to the upstream";
    case MESH_ECONNECT_TIMEOUT: return "connect to the upstream timed out";
    case MESH_ETIMEOUT: return "call timed out";
    case MESH_ERESET: return "upstream reset or closed the connection";
    case MESH_EPROTOCOL: return "upstream protocol error";
    case MESH_ETOOLARGE: return "response exceeds the configured size bound";
    case MESH_ECANCELED: return "call canceled";
    case MESH_EDNS: return "upstream host name did not resolve";
    case MESH_EOVERFLOW: return "too many calls waiting for a connection";
    case MESH_ENOROUTE: return "no route for the call";
    case MESH_ENOHEALTHY: return "no healthy upstream";
    default: return "unknown error";
  }
}

const char *mesh_version(void) { return PACKAGE_VERSION; }

uint32_t mesh_version_num(void) { return (uint32_t)MESH_VERSION_NUM; }
