/**
 * grpc-js reads GRPC_NODE_USE_ALTERNATIVE_RESOLVER once, when it is first loaded; with it,
 * `dns://HOST:PORT/name` targets send their queries to that DNS server. Import this module
 * before anything that loads grpc-js (Jest gives every test file its own module registry, so
 * grpc-js is loaded afresh for the file that imports this first).
 */
process.env['GRPC_NODE_USE_ALTERNATIVE_RESOLVER'] = 'true';
