import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type AwsProbe,
  type CheckResult,
  certificateCovers,
  type DoctorDeps,
  doctor,
  formatReport,
  runDoctor,
  signedJsonCall,
} from '../../cli/doctor';

const CF_CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const RTMPS_CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/66666666-2222-3333-4444-555555555555';

/** A healthy account and machine; each test changes one thing. The AWS adapter is the only fake. */
function healthyAws(over: Partial<AwsProbe> = {}): AwsProbe {
  return {
    defaultRegion: async () => 'eu-west-1',
    credentials: async () => ({ ok: true }),
    bootstrapVersion: async () => 27,
    lambdaConcurrency: async () => ({ limit: 1000, unreserved: 1000 }),
    certificate: async (arn) => ({ status: 'ISSUED', names: arn === CF_CERT ? ['live.example.com'] : ['*.example.com'] }),
    ...over,
  };
}

function deps(over: Partial<DoctorDeps> = {}): DoctorDeps {
  return {
    aws: healthyAws(),
    run: async () => ({ code: 0, stdout: 'linux/arm64 27.3.1|Docker Engine - Community\n', stderr: '' }),
    exists: () => false,
    context: {},
    nodeVersion: 'v22.11.0',
    hostArch: 'arm64',
    platform: 'linux',
    ...over,
  };
}

const byName = (results: readonly CheckResult[], name: string) => {
  const found = results.find((r) => r.name === name);
  if (!found) throw new Error(`no check named ${name}: ${results.map((r) => r.name).join(', ')}`);
  return found;
};

describe('keyframe doctor', () => {
  it('passes a ready machine and account, and still mentions CloudFront verification', async () => {
    const results = await doctor(deps());
    expect(results.filter((r) => r.status === 'fail')).toEqual([]);
    expect(byName(results, 'Region')).toMatchObject({ status: 'ok', detail: 'eu-west-1' });
    expect(byName(results, 'CDK bootstrap')).toMatchObject({ status: 'ok', detail: 'version 27 in eu-west-1' });
    expect(byName(results, 'Image architecture')).toMatchObject({ status: 'ok' });
    expect(byName(results, 'CloudFront account verification')).toMatchObject({ status: 'warn' });
    expect(formatReport(results)).toMatch(/Ready for `npx cdk deploy` \(1 warning\(s\) above\)\.\n$/);
  });

  it('says plainly that AWS checks were skipped without credentials, and still checks the machine', async () => {
    const reason = 'Could not load credentials from any providers';
    const results = await doctor(deps({ aws: healthyAws({ credentials: async () => ({ ok: false, reason }) }) }));
    expect(byName(results, 'AWS credentials')).toMatchObject({ status: 'fail', detail: `none found (${reason})` });
    for (const name of ['CDK bootstrap', 'Lambda concurrency', 'Certificates']) {
      expect(byName(results, name)).toEqual({ name, status: 'skip', detail: 'needs AWS credentials, and there are none: not checked' });
    }
    expect(byName(results, 'Docker').status).toBe('ok');
  });

  it("fails a new account's concurrency quota of 10: the reserved concurrency cannot be set", async () => {
    const results = await doctor(deps({ aws: healthyAws({ lambdaConcurrency: async () => ({ limit: 10, unreserved: 10 }) }) }));
    const check = byName(results, 'Lambda concurrency');
    expect(check.status).toBe('fail');
    expect(check.detail).toMatch(/quota 10, 10 unreserved: reserving 5 for task-events/);
    expect(check.fix).toMatch(/Service Quotas .*keyframe:taskEventsReservedConcurrency=0/);
    // With no reservation it is a warning: it deploys, but the origin shares 10.
    const tiny = healthyAws({ lambdaConcurrency: async () => ({ limit: 10, unreserved: 10 }) });
    const without = await doctor(deps({ context: { 'keyframe:taskEventsReservedConcurrency': 0 }, aws: tiny }));
    expect(byName(without, 'Lambda concurrency').status).toBe('warn');
  });

  it('warns when the alarms are sized for another quota', async () => {
    const results = await doctor(deps({ aws: healthyAws({ lambdaConcurrency: async () => ({ limit: 3000, unreserved: 2995 }) }) }));
    expect(byName(results, 'Lambda concurrency')).toMatchObject({ status: 'warn', fix: 'set keyframe:lambdaConcurrencyQuota=3000 in cdk.json' });
  });

  it('fails an unbootstrapped or old bootstrap, with the command', async () => {
    const none = await doctor(deps({ aws: healthyAws({ bootstrapVersion: async () => undefined }) }), { region: 'us-east-2' });
    expect(byName(none, 'CDK bootstrap')).toMatchObject({ status: 'fail', fix: 'npx cdk bootstrap aws://<account-id>/us-east-2' });
    const old = await doctor(deps({ aws: healthyAws({ bootstrapVersion: async () => 5 }) }));
    expect(byName(old, 'CDK bootstrap')).toMatchObject({ status: 'fail', detail: 'version 5; the stack needs 6 or newer' });
  });

  it('fails a region without function URLs, and no region at all', async () => {
    expect(byName(await doctor(deps(), { region: 'eu-central-2' }), 'Region')).toMatchObject({ status: 'fail' });
    const noRegion = await doctor(deps({ aws: healthyAws({ defaultRegion: async () => undefined }) }));
    expect(byName(noRegion, 'Region')).toMatchObject({ status: 'fail', detail: 'none set' });
    expect(byName(noRegion, 'CDK bootstrap')).toMatchObject({ status: 'skip', detail: 'needs a region: not checked' });
  });

  it("checks each certificate's region, status and names", async () => {
    const context = {
      'keyframe:domainName': 'live.example.com',
      'keyframe:domainCertificateArn': CF_CERT,
      'keyframe:rtmpsCertificateArn': RTMPS_CERT,
      'keyframe:ingestDomainName': 'ingest.example.com',
    };
    const good = await doctor(deps({ context }));
    expect(byName(good, 'Certificate (keyframe:domainCertificateArn)')).toMatchObject({ status: 'ok', detail: 'issued, covers live.example.com' });
    expect(byName(good, 'Certificate (keyframe:rtmpsCertificateArn)')).toMatchObject({ status: 'ok', detail: 'issued, covers ingest.example.com' });

    const elsewhere = await doctor(deps({ context }), { region: 'us-west-2' });
    expect(byName(elsewhere, 'Certificate (keyframe:rtmpsCertificateArn)')).toMatchObject({
      status: 'fail',
      detail: "it is in eu-west-1, but the NLB only uses certificates of the stack's region (us-west-2)",
    });
    const pendingCert = healthyAws({ certificate: async () => ({ status: 'PENDING_VALIDATION', names: ['live.example.com'] }) });
    const pending = await doctor(deps({ context, aws: pendingCert }));
    expect(byName(pending, 'Certificate (keyframe:domainCertificateArn)')).toMatchObject({ status: 'fail', detail: 'status PENDING_VALIDATION' });
    const otherCert = healthyAws({ certificate: async () => ({ status: 'ISSUED', names: ['other.example.org'] }) });
    const wrongName = await doctor(deps({ context, aws: otherCert }));
    expect(byName(wrongName, 'Certificate (keyframe:domainCertificateArn)').detail).toBe(
      'issued for other.example.org, which does not cover live.example.com',
    );
  });

  it('fails a missing Docker, and a cross-architecture build with no emulation', async () => {
    const daemon = 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock';
    const missing = await doctor(deps({ run: async () => ({ code: 1, stdout: '', stderr: `${daemon}\n` }) }));
    expect(byName(missing, 'Docker')).toMatchObject({ status: 'fail', detail: `docker is not installed or not running (${daemon})` });

    const x86 = async () => ({ code: 0, stdout: 'linux/amd64 27.3.1|Docker Engine - Community', stderr: '' });
    const armTasks = { 'keyframe:ingestArchitecture': 'arm64' };
    const noEmulation = await doctor(deps({ run: x86, hostArch: 'x64', context: armTasks }));
    expect(byName(noEmulation, 'Image architecture')).toMatchObject({ status: 'fail' });
    expect(byName(noEmulation, 'Image architecture').detail).toMatch(/exec format error/);
    const qemu = (f: string) => f === '/proc/sys/fs/binfmt_misc/qemu-aarch64';
    const withQemu = await doctor(deps({ run: x86, hostArch: 'x64', context: armTasks, exists: qemu }));
    expect(byName(withQemu, 'Image architecture').status).toBe('warn');
    // The default (host) builds natively on the same x86 machine.
    expect(byName(await doctor(deps({ run: x86, hostArch: 'x64' })), 'Image architecture').status).toBe('ok');
  });

  it('fails an invalid config with its messages, and exits 1 on any failure', async () => {
    const lines: string[] = [];
    const code = await runDoctor({}, (s) => lines.push(s), deps({ context: { 'keyframe:minTasks': 0 } }));
    expect(code).toBe(1);
    expect(lines.join('')).toMatch(/\[FAIL\] Config \(cdk\.json\) +keyframe:minTasks=0: out of range/);
    expect(lines.join('')).toMatch(/1 problem\(s\) to fix before `npx cdk deploy`\./);
    expect(await runDoctor({}, () => undefined, deps())).toBe(0);
  });

  it('matches wildcard certificates one label deep', () => {
    expect(certificateCovers(['*.example.com'], 'ingest.example.com')).toBe(true);
    expect(certificateCovers(['*.example.com'], 'a.b.example.com')).toBe(false);
    expect(certificateCovers(['*.example.com'], 'example.com')).toBe(false);
    expect(certificateCovers(['example.com', 'ingest.example.com'], 'ingest.example.com')).toBe(true);
  });
});

describe('the signed call adapter (SigV4 over fetch, against a local endpoint)', () => {
  let server: ReturnType<typeof createServer>;
  let seen: Array<{ method?: string; url?: string; auth?: string; target?: string; token?: string; body: string }>;
  let endpoint: string;

  beforeEach(async () => {
    seen = [];
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({
          method: req.method,
          url: req.url,
          auth: req.headers.authorization,
          target: req.headers['x-amz-target'] as string | undefined,
          token: req.headers['x-amz-security-token'] as string | undefined,
          body,
        });
        if (req.url === '/denied') res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"not authorized"}');
        else {
          const limits = { AccountLimit: { ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 } };
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(limits));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(() => {
    server.close();
  });

  const credentials = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session' });

  it('signs the request for the service and region, with the session token', async () => {
    const path = '/2016-08-19/account-settings/';
    const body = await signedJsonCall({ service: 'lambda', region: 'eu-west-1', method: 'GET', path, endpoint, credentials });
    expect(body).toEqual({ AccountLimit: { ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 } });
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/2016-08-19/account-settings/', token: 'session' });
    expect(seen[0].auth).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
  });

  it('sends JSON-RPC bodies with their target, and turns an error answer into an error', async () => {
    await signedJsonCall({
      service: 'acm',
      region: 'us-east-1',
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'CertificateManager.DescribeCertificate' },
      body: JSON.stringify({ CertificateArn: CF_CERT }),
      endpoint,
      credentials,
    });
    expect(seen[0]).toMatchObject({
      method: 'POST',
      target: 'CertificateManager.DescribeCertificate',
      body: JSON.stringify({ CertificateArn: CF_CERT }),
    });
    await expect(signedJsonCall({ service: 'lambda', region: 'eu-west-1', method: 'GET', path: '/denied', endpoint, credentials })).rejects.toThrow(
      'lambda answered 403: not authorized',
    );
  });
});
