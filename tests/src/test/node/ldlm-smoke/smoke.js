// An LDLM client on Node's own gRPC stack (@grpc/grpc-js), built from the tests' ldlm_wire.proto, against one
// Hasp node's LDLM port. Usage: node smoke.js HOST:PORT PROTO_FILE. Prints one line per check and a last line
// "N passed, M failed"; exits 1 when a check failed. Run by LdlmNodeClientTest.
'use strict';
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const [address, protoFile] = process.argv.slice(2);
const definition = protoLoader.loadSync(protoFile, { keepCase: true, enums: String, defaults: true, oneofs: true });
const LDLM = grpc.loadPackageDefinition(definition).ldlm.LDLM;

// each client its own connection (grpc-js shares connections between clients by default): a connection is a session
function connect() {
  return new LDLM(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

function call(client, method, request, timeoutMs = 30000) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutMs }, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

let passed = 0;
let failed = 0;
function check(what, ok, detail) {
  if (ok) {
    passed++;
    console.log('ok   ' + what);
  } else {
    failed++;
    console.log('FAIL ' + what + ': ' + JSON.stringify(detail));
  }
}
const code = (r) => (r.error ? r.error.code : null);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function main() {
  const name = 'node-smoke-' + process.pid + '-' + Date.now();
  const a = connect();
  const b = connect();

  const held = await call(a, 'Lock', { name });
  check('Lock grants, with a UUID key', held.locked && held.name === name && uuid.test(held.key) && !held.error, held);
  const tried = await call(b, 'TryLock', { name });
  check('TryLock from a second connection: not locked, no error', !tried.locked && !tried.error, tried);
  const timedOut = await call(b, 'Lock', { name, wait_timeout_seconds: 1 });
  check('Lock with a wait timeout: LockWaitTimeout inside the response', !timedOut.locked && code(timedOut) === 'LockWaitTimeout', timedOut);
  const noTimeout = await call(a, 'Renew', { name, key: held.key, lock_timeout_seconds: 5 });
  check('Renew of a lock without a timeout: LockDoesNotExistOrInvalidKey', code(noTimeout) === 'LockDoesNotExistOrInvalidKey', noTimeout);
  const badSize = await call(b, 'TryLock', { name: name + '-sized', size: 0 });
  check('size 0: InvalidLockSize', code(badSize) === 'InvalidLockSize', badSize);
  const mismatch = await call(b, 'TryLock', { name, size: 2 });
  check('another size while held: LockSizeMismatch', code(mismatch) === 'LockSizeMismatch', mismatch);

  const waiting = call(b, 'Lock', { name });
  await new Promise((r) => setTimeout(r, 500)); // let the Lock queue (a later grant proves it waited)
  const closedAt = Date.now();
  a.close(); // the holder's connection ends: its lock is released
  const granted = await waiting;
  const ms = Date.now() - closedAt;
  check('the waiter is granted when the holder\'s connection closes (' + ms + ' ms)', granted.locked && ms <= 2000, granted);
  const unlocked = await call(b, 'Unlock', { name, key: granted.key });
  check('Unlock', unlocked.unlocked && unlocked.name === name && !unlocked.error, unlocked);
  const again = await call(b, 'Unlock', { name, key: granted.key });
  check('Unlock again: LockDoesNotExist', !again.unlocked && code(again) === 'LockDoesNotExist', again);

  const timed = await call(b, 'TryLock', { name, lock_timeout_seconds: 10 });
  const refreshed = await call(b, 'RefreshLock', { name, key: timed.key, lock_timeout_seconds: 10 });
  check('RefreshLock (clients up to v1.1) renews', timed.locked && refreshed.locked && !refreshed.error, refreshed);
  const renewed = await call(b, 'Renew', { name, key: timed.key, lock_timeout_seconds: 10 });
  check('Renew renews', renewed.locked && renewed.key === timed.key, renewed);
  await call(b, 'Unlock', { name, key: timed.key });
  b.close();
}

main().then(
  () => {
    console.log(passed + ' passed, ' + failed + ' failed');
    process.exit(failed === 0 ? 0 : 1);
  },
  (err) => {
    console.log('FAIL ' + (err && err.stack ? err.stack : err));
    console.log(passed + ' passed, ' + (failed + 1) + ' failed');
    process.exit(1);
  });
