#!/usr/bin/env node
// Container health probe for a coordinator or a worker:
//
//   node healthcheck.mjs [/livez|/readyz]
//
// GETs the path on 127.0.0.1 and exits 0 on a 2xx answer, 1 otherwise
// (including no answer within HEALTHCHECK_TIMEOUT_MS). When TESTUDO_TLS_CA is
// set the HTTP port serves TLS: the probe speaks HTTPS, trusts only that CA
// and presents TESTUDO_TLS_CERT/TESTUDO_TLS_KEY when they are set (a
// coordinator started with --tls-client-auth asks for a client certificate).
// It dials the loopback address, so the server's certificate is checked
// against the CA but not against a host name (it names the pod or the
// service, never 127.0.0.1). HEALTHCHECK_TOKEN_FILE, when set, is sent as
// `Authorization: Bearer <token>`.
//
// Settings (environment): HEALTHCHECK_PORT (default 9101), HEALTHCHECK_TIMEOUT_MS
// (default 3000), TESTUDO_TLS_CA, TESTUDO_TLS_CERT, TESTUDO_TLS_KEY,
// HEALTHCHECK_TOKEN_FILE. Plain Node, no dependency: it runs in the image
// as it is.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import process from 'node:process';

const pathAllowed = new Set(['/livez', '/readyz']);
const path = process.argv[2] ?? '/livez';
if (!pathAllowed.has(path)) {
  process.stderr.write(`healthcheck: path must be /livez or /readyz, got ${JSON.stringify(path)}\n`);
  process.exit(2);
}
const port = Number(process.env.HEALTHCHECK_PORT ?? '9101');
const timeoutMs = Number(process.env.HEALTHCHECK_TIMEOUT_MS ?? '3000');
if (!Number.isInteger(port) || port < 1 || port > 65535 || !Number.isInteger(timeoutMs) || timeoutMs < 1) {
  process.stderr.write('healthcheck: HEALTHCHECK_PORT must be 1..65535 and HEALTHCHECK_TIMEOUT_MS a positive integer\n');
  process.exit(2);
}

/** @param {string} name the environment variable naming a file */
const read = (name) => {
  const file = process.env[name];
  return file ? readFileSync(file) : undefined;
};
const tls = process.env.TESTUDO_TLS_CA !== undefined && process.env.TESTUDO_TLS_CA !== '';
/** @type {Record<string, string>} */
const headers = {};
const tokenFile = process.env.HEALTHCHECK_TOKEN_FILE;
if (tokenFile) headers.authorization = `Bearer ${readFileSync(tokenFile, 'utf8').trim()}`;

/** @type {http.RequestOptions} */
const options = { host: '127.0.0.1', port, path, method: 'GET', headers, timeout: timeoutMs };
/** @param {http.IncomingMessage} res */
const onResponse = (res) => {
  res.resume();
  const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300;
  if (!ok) process.stderr.write(`healthcheck: ${path} answered ${res.statusCode}\n`);
  process.exitCode = ok ? 0 : 1;
};
const request = tls
  ? https.request({ ...options, ca: read('TESTUDO_TLS_CA'), cert: read('TESTUDO_TLS_CERT'), key: read('TESTUDO_TLS_KEY'), checkServerIdentity: () => undefined }, onResponse)
  : http.request(options, onResponse);
request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
request.on('error', (error) => {
  process.stderr.write(`healthcheck: ${tls ? 'https' : 'http'}://127.0.0.1:${port}${path}: ${error.message}\n`);
  process.exitCode = 1;
});
request.end();
