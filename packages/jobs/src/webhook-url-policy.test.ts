// The webhook URL policy: the syntactic check at submission (schemes, literal addresses in every forbidden range,
// localhost names, numeric shorthands) and the resolved-address check at delivery (guardedLookup), in the
// default (refusing) and the allowed (HIFI_WEBHOOK_ALLOW_PRIVATE) mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { checkWebhookUrl, forbiddenAddressKind, guardedLookup, WebhookAddressRefusedError, type ResolveHost } from './webhook-url-policy.ts';

test('forbiddenAddressKind names the range of loopback, private, link-local, CGNAT, unique-local and unspecified addresses', () => {
  const cases: [string, string | null][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.1.2', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['::ffff:192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.254', 'CGNAT'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    // Public neighbours of the ranges above.
    ['172.15.255.255', null],
    ['172.32.0.1', null],
    ['100.63.255.255', null],
    ['100.128.0.1', null],
    ['192.169.0.1', null],
    ['8.8.8.8', null],
    ['2001:4860:4860::8888', null],
    ['::ffff:8.8.8.8', null],
  ];
  for (const [address, kind] of cases) assert.equal(forbiddenAddressKind(address), kind, address);
  assert.throws(() => forbiddenAddressKind('example.com'), /not an IP address/);
});

test('checkWebhookUrl refuses other schemes, literal private addresses and localhost names; allowPrivate lifts only the address rules', () => {
  const refusals: [string, 'invalid' | 'scheme' | 'address', RegExp][] = [
    ['ftp://example.com/hook', 'scheme', /scheme "ftp"/],
    ['javascript:alert(1)', 'scheme', /scheme "javascript"/],
    ['file:///etc/passwd', 'scheme', /scheme "file"/],
    ['http://', 'invalid', /not a valid URL/],
    ['http://127.0.0.1:8080/hook', 'address', /127\.0\.0\.1 is a loopback address/],
    ['http://2130706433/', 'address', /127\.0\.0\.1 is a loopback address/],
    ['http://127.1/', 'address', /loopback/],
    ['http://0x7f.0.0.1/', 'address', /loopback/],
    ['http://[::1]/hook', 'address', /::1 is a loopback address/],
    ['http://[::ffff:10.0.0.1]/', 'address', /private/],
    ['https://10.0.0.5/hook', 'address', /10\.0\.0\.5 is a private address/],
    ['https://192.168.0.10/', 'address', /private/],
    ['http://169.254.169.254/latest/meta-data/', 'address', /link-local/],
    ['http://100.64.1.1/', 'address', /CGNAT/],
    ['http://[fd00::1]/', 'address', /unique-local/],
    ['http://0.0.0.0:9000/', 'address', /unspecified/],
    ['http://localhost:3000/hook', 'address', /loopback name/],
    ['http://LOCALHOST./hook', 'address', /loopback name/],
    ['http://api.localhost/hook', 'address', /loopback name/],
  ];
  for (const [url, problem, reason] of refusals) {
    const r = checkWebhookUrl(url, { allowPrivate: false });
    assert.equal(r.ok, false, url);
    assert.ok(!r.ok && r.problem === problem, `${url}: ${JSON.stringify(r)}`);
    assert.ok(!r.ok && reason.test(r.reason), `${url}: ${!r.ok && r.reason}`);
  }
  for (const url of ['https://hooks.example.com/hifi?x=1', 'http://8.8.8.8/hook', 'https://[2001:db8::1]:8443/', 'http://localhost.example.com/']) {
    const r = checkWebhookUrl(url, { allowPrivate: false });
    assert.ok(r.ok, `${url}: ${JSON.stringify(r)}`);
  }
  // Allowed mode: private addresses and localhost pass, other schemes still do not.
  for (const url of ['http://127.0.0.1:8080/hook', 'http://localhost/hook', 'http://[::1]/', 'https://10.0.0.5/']) {
    assert.ok(checkWebhookUrl(url, { allowPrivate: true }).ok, url);
  }
  const ftp = checkWebhookUrl('ftp://127.0.0.1/', { allowPrivate: true });
  assert.ok(!ftp.ok && ftp.problem === 'scheme');
  assert.equal(checkWebhookUrl('http://127.0.0.1/').ok, false, 'the default policy refuses');
});

function lookupOnce(lookup: LookupFunction, hostname: string, all: boolean): Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number }> {
  return new Promise((resolve) => lookup(hostname, { all }, (err, address, family) => resolve({ err, address, family })));
}

test('guardedLookup refuses a host name that resolves to a forbidden address, passes public ones, and lets allowPrivate through', async () => {
  const answers: Record<string, LookupAddress[]> = {
    'public.test': [{ address: '93.184.216.34', family: 4 }, { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 }],
    'rebind.test': [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.7', family: 4 }],
  };
  const resolve: ResolveHost = async (hostname) => {
    const a = answers[hostname];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return a;
  };
  const strict = guardedLookup({ allowPrivate: false }, resolve);

  const one = await lookupOnce(strict, 'public.test', false);
  assert.equal(one.err, null);
  assert.deepEqual([one.address, one.family], ['93.184.216.34', 4]);
  const all = await lookupOnce(strict, 'public.test', true);
  assert.deepEqual(all.address, answers['public.test']);

  // One forbidden address among public ones is enough to refuse (the client might connect to any of them).
  const mixed = await lookupOnce(strict, 'rebind.test', true);
  assert.ok(mixed.err instanceof WebhookAddressRefusedError);
  assert.equal(mixed.err.address, '10.0.0.7');
  assert.equal(mixed.err.kind, 'private');
  assert.match(mixed.err.message, /rebind\.test resolves to 10\.0\.0\.7, a private address/);

  const missing = await lookupOnce(strict, 'nowhere.test', false);
  assert.equal(missing.err?.code, 'ENOTFOUND', 'DNS failures pass through unchanged (they are retryable)');

  const relaxed = await lookupOnce(guardedLookup({ allowPrivate: true }, resolve), 'rebind.test', true);
  assert.equal(relaxed.err, null);
  assert.deepEqual(relaxed.address, answers['rebind.test']);
});

test('guardedLookup with the system resolver: localhost is refused by default, allowed with allowPrivate', async () => {
  const refused = await lookupOnce(guardedLookup({ allowPrivate: false }), 'localhost', false);
  assert.ok(refused.err instanceof WebhookAddressRefusedError, String(refused.err));
  assert.equal(refused.err.kind, 'loopback');
  const allowed = await lookupOnce(guardedLookup({ allowPrivate: true }), 'localhost', false);
  assert.equal(allowed.err, null);
  assert.equal(forbiddenAddressKind(allowed.address as string), 'loopback');
});
