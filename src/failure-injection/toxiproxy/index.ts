/** Testudo's built-in Toxiproxy-compatible fault proxy (see docs/toxiproxy.md). */
export { startToxiproxyServer, TOXIPROXY_VERSION } from './server.js';
export { ToxicProxy, ProxyStartError, splitHostPort } from './proxy.js';
export { ToxicStage, TOXIC_TYPES, TOXIC_ATTRIBUTES, createPrng, isToxicType, sliceOffsets } from './toxics.js';
export type { ToxiproxyServer, ToxiproxyServerOptions } from './server.js';
export type { ProxyInfo } from './proxy.js';
export type { Direction, ToxicType, ToxicSpec, Rng, Chunk, StageHost } from './toxics.js';
