import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SignatureV4 } from '@smithy/signature-v4';
import { ConfigError, type KeyframeConfig, loadConfig, resolveIngestArchitecture } from '../infra/config';
import { REPO_ROOT } from '../infra/paths';
import { arnRegion, FUNCTION_URL_UNSUPPORTED_REGIONS, SUPPORTED_REGIONS } from '../infra/regions';
import { cliSettings } from '../core/settings/cli';

/**
 * `keyframe doctor [--region <region>]`: a preflight for `npx cdk deploy`. It checks what it can from this machine
 * and with the caller's AWS credentials, and prints one line per check with what to fix:
 *
 * - Node.js, the deploy config in cdk.json, and the region (function URLs exist there);
 * - Docker, and whether it can build the ingest image for the task architecture without emulation (or has it);
 * - AWS credentials; then, with them: the CDK bootstrap, the Lambda concurrency quota (new accounts start at 10,
 *   too few for the reserved concurrency and the origin), and each certificate's region, status and names.
 *
 * A check that needs credentials when there are none says so and is skipped; it never guesses. CloudFront's
 * account verification cannot be read through an API, so the report says how it shows and what to do.
 */

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
  readonly fix?: string;
}

export interface CertificateInfo {
  readonly status: string;
  /** The domain and its subject alternative names. */
  readonly names: readonly string[];
}

/** The AWS calls the doctor makes: the thin adapter the tests replace. */
export interface AwsProbe {
  /** The region from the SDK's usual sources (AWS_REGION, the profile), or undefined. */
  defaultRegion(): Promise<string | undefined>;
  /** Whether the SDK's credential chain finds credentials; the error message when it does not. */
  credentials(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** CDKToolkit's BootstrapVersion output, or undefined when the region is not bootstrapped. */
  bootstrapVersion(region: string): Promise<number | undefined>;
  /** Lambda GetAccountSettings. */
  lambdaConcurrency(region: string): Promise<{ limit: number; unreserved: number }>;
  /** ACM DescribeCertificate, in the certificate's own region. */
  certificate(arn: string): Promise<CertificateInfo>;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface DoctorDeps {
  readonly aws: AwsProbe;
  /** Runs a local command (docker). */
  run(command: string, args: readonly string[]): Promise<CommandResult>;
  /** Whether a file exists (binfmt_misc entries). */
  exists(path: string): boolean;
  /** cdk.json's "context". */
  readonly context: Readonly<Record<string, unknown>>;
  readonly nodeVersion: string;
  /** Node's `os.arch()` on this machine. */
  readonly hostArch: string;
  readonly platform: string;
  /** The container CLI `cdk deploy` drives. @default 'docker' */
  readonly docker?: string;
}

/** CDK's bootstrap template version that the synthesized stack requires (its CheckBootstrapVersion rule). */
export const MIN_BOOTSTRAP_VERSION = 6;
/** Lambda keeps this much of the account's concurrency unreserved; reserving more fails the deploy. */
export const LAMBDA_MIN_UNRESERVED = 100;
/** The default quota once an account is established; new accounts start far lower. */
export const LAMBDA_STANDARD_QUOTA = 1000;
const MIN_NODE = [20, 19] as const;

const ok = (name: string, detail: string): CheckResult => ({ name, status: 'ok', detail });
const warn = (name: string, detail: string, fix?: string): CheckResult => ({ name, status: 'warn', detail, fix });
const fail = (name: string, detail: string, fix?: string): CheckResult => ({ name, status: 'fail', detail, fix });
const skip = (name: string, detail: string): CheckResult => ({ name, status: 'skip', detail });

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Runs every check. Never throws: a check that cannot run reports why. */
export async function doctor(deps: DoctorDeps, opts: { region?: string } = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [];

  const [major, minor] = deps.nodeVersion.replace(/^v/, '').split('.').map(Number);
  const nodeOk = major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  results.push(
    nodeOk
      ? ok('Node.js', deps.nodeVersion)
      : fail('Node.js', `${deps.nodeVersion} is older than ${MIN_NODE.join('.')}`, 'install Node.js 20.19 or newer (22 LTS is fine)'),
  );

  let config: KeyframeConfig | undefined;
  try {
    config = loadConfig(deps.context);
    results.push(ok('Config (cdk.json)', 'valid'));
  } catch (err) {
    const issues = err instanceof ConfigError ? err.issues : [message(err)];
    results.push(fail('Config (cdk.json)', issues.join('; '), 'fix the keys named above in cdk.json "context"'));
  }

  results.push(...(await dockerChecks(deps, config)));

  const credentials = await deps.aws.credentials().catch((err: unknown) => ({ ok: false as const, reason: message(err) }));
  let region = opts.region;
  if (!region) region = await deps.aws.defaultRegion().catch(() => undefined);
  results.push(regionCheck(region));

  if (!credentials.ok) {
    results.push(
      fail(
        'AWS credentials',
        `none found (${credentials.reason})`,
        'configure them as the AWS CLI does: aws configure, aws sso login, or AWS_PROFILE',
      ),
    );
    for (const name of ['CDK bootstrap', 'Lambda concurrency', 'Certificates']) {
      results.push(skip(name, 'needs AWS credentials, and there are none: not checked'));
    }
  } else if (!region) {
    results.push(ok('AWS credentials', 'found'));
    for (const name of ['CDK bootstrap', 'Lambda concurrency']) results.push(skip(name, 'needs a region: not checked'));
    results.push(...(await certificateChecks(deps.aws, config, undefined)));
  } else {
    results.push(ok('AWS credentials', 'found'));
    results.push(await bootstrapCheck(deps.aws, region));
    results.push(await concurrencyCheck(deps.aws, region, config));
    results.push(...(await certificateChecks(deps.aws, config, region)));
  }

  results.push(
    warn(
      'CloudFront account verification',
      'cannot be read through an API. On a new account the deploy may stop at the distribution with ' +
        '"Your account must be verified before you can add new CloudFront resources"',
      'if it does, open a case with AWS Support (Account and billing) asking to verify the account for CloudFront, then deploy again',
    ),
  );
  return results;
}

function regionCheck(region: string | undefined): CheckResult {
  if (!region) return fail('Region', 'none set', 'pass --region, or set AWS_REGION or a region in your AWS profile');
  if ((FUNCTION_URL_UNSUPPORTED_REGIONS as readonly string[]).includes(region)) {
    return fail('Region', `${region} has no Lambda function URLs, which the origin needs`, `deploy to one of ${SUPPORTED_REGIONS.join(', ')}`);
  }
  if (!SUPPORTED_REGIONS.includes(region)) return warn('Region', `${region} is not a commercial region Keyframe has been checked in`);
  return ok('Region', region);
}

const EMULATION_FILES: Record<string, readonly string[]> = {
  arm64: ['/proc/sys/fs/binfmt_misc/qemu-aarch64', '/proc/sys/fs/binfmt_misc/qemu-aarch64-static'],
  x86_64: ['/proc/sys/fs/binfmt_misc/qemu-x86_64', '/proc/sys/fs/binfmt_misc/qemu-x86_64-static', '/proc/sys/fs/binfmt_misc/rosetta'],
};

async function dockerChecks(deps: DoctorDeps, config: KeyframeConfig | undefined): Promise<CheckResult[]> {
  const docker = deps.docker ?? 'docker';
  const probe = await deps
    .run(docker, ['version', '--format', '{{.Server.Os}}/{{.Server.Arch}} {{.Server.Version}}|{{.Server.Platform.Name}}'])
    .catch((err: unknown) => ({ code: -1, stdout: '', stderr: message(err) }));
  if (probe.code !== 0) {
    return [
      fail(
        'Docker',
        `${docker} is not installed or not running (${(probe.stderr || probe.stdout).trim().split('\n')[0] || `exit ${probe.code}`})`,
        'start Docker (or set CDK_DOCKER to another engine, e.g. finch): cdk deploy builds and pushes the ingest image',
      ),
    ];
  }
  const [serverPart, platformName = ''] = probe.stdout.trim().split('|');
  const [osArch] = serverPart.split(' ');
  const serverArch = osArch.split('/')[1] === 'amd64' ? 'x86_64' : osArch.split('/')[1] === 'arm64' ? 'arm64' : osArch.split('/')[1];
  const results = [ok('Docker', `${serverPart.trim()}${platformName ? ` (${platformName})` : ''}`)];
  if (!config) return results;
  const target = resolveIngestArchitecture(config.ingestArchitecture, deps.hostArch);
  const how = config.ingestArchitecture === 'host' ? `${target} (keyframe:ingestArchitecture=host, this machine)` : target;
  if (target === serverArch) {
    results.push(ok('Image architecture', `${how}: a native build`));
    return results;
  }
  const desktop = /desktop/i.test(platformName);
  const emulated = desktop || (EMULATION_FILES[target] ?? []).some((f) => deps.exists(f));
  results.push(
    emulated
      ? warn(
          'Image architecture',
          `${how} on a ${serverArch} Docker: the build runs emulated (slow, but works)`,
          'or set keyframe:ingestArchitecture=host for a native build',
        )
      : fail(
          'Image architecture',
          `${how} on a ${serverArch} Docker with no emulation: every RUN in the image would fail with "exec format error"`,
          `set keyframe:ingestArchitecture=host (or ${serverArch}) in cdk.json, or install emulation once: ` +
            `docker run --privileged --rm tonistiigi/binfmt --install ${target === 'arm64' ? 'arm64' : 'amd64'}`,
        ),
  );
  return results;
}

async function bootstrapCheck(aws: AwsProbe, region: string): Promise<CheckResult> {
  try {
    const version = await aws.bootstrapVersion(region);
    if (version === undefined) {
      return fail('CDK bootstrap', `${region} is not bootstrapped (no CDKToolkit stack)`, `npx cdk bootstrap aws://<account-id>/${region}`);
    }
    if (version < MIN_BOOTSTRAP_VERSION) {
      return fail(
        'CDK bootstrap',
        `version ${version}; the stack needs ${MIN_BOOTSTRAP_VERSION} or newer`,
        `npx cdk bootstrap aws://<account-id>/${region} (upgrades it in place)`,
      );
    }
    return ok('CDK bootstrap', `version ${version} in ${region}`);
  } catch (err) {
    return fail('CDK bootstrap', `could not read it: ${message(err)}`, 'check that these credentials may call cloudformation:DescribeStacks');
  }
}

async function concurrencyCheck(aws: AwsProbe, region: string, config: KeyframeConfig | undefined): Promise<CheckResult> {
  const name = 'Lambda concurrency';
  let settings: { limit: number; unreserved: number };
  try {
    settings = await aws.lambdaConcurrency(region);
  } catch (err) {
    return fail(name, `could not read it: ${message(err)}`, 'check that these credentials may call lambda:GetAccountSettings');
  }
  const reserved = config?.taskEventsReservedConcurrency ?? 0;
  const increase = `request "Concurrent executions" of ${LAMBDA_STANDARD_QUOTA} or more in Service Quotas (AWS Lambda, ${region})`;
  if (reserved > 0 && settings.unreserved - reserved < LAMBDA_MIN_UNRESERVED) {
    return fail(
      name,
      `quota ${settings.limit}, ${settings.unreserved} unreserved: reserving ${reserved} for task-events would leave fewer than ` +
        `the ${LAMBDA_MIN_UNRESERVED} Lambda requires, so the deploy would fail`,
      `${increase}; or deploy with keyframe:taskEventsReservedConcurrency=0 until then`,
    );
  }
  if (settings.limit < LAMBDA_STANDARD_QUOTA) {
    return warn(name, `quota ${settings.limit}: the origin shares it with every function in the account, so a busy stream throttles`, increase);
  }
  if (config && config.lambdaConcurrencyQuota !== settings.limit) {
    return warn(
      name,
      `quota ${settings.limit}, but keyframe:lambdaConcurrencyQuota is ${config.lambdaConcurrencyQuota}: ` +
        'the concurrency alarms would fire at the wrong level',
      `set keyframe:lambdaConcurrencyQuota=${settings.limit} in cdk.json`,
    );
  }
  return ok(name, `quota ${settings.limit}, ${settings.unreserved} unreserved`);
}

/** Whether an ACM name (possibly `*.example.com`) covers a host name. */
export function certificateCovers(names: readonly string[], host: string): boolean {
  return names.some((n) => n === host || (n.startsWith('*.') && host.endsWith(n.slice(1)) && !host.slice(0, -n.length + 1).includes('.')));
}

async function certificateChecks(aws: AwsProbe, config: KeyframeConfig | undefined, region: string | undefined): Promise<CheckResult[]> {
  if (!config) return [skip('Certificates', 'the config is invalid: not checked')];
  const wanted = [
    {
      key: 'domainCertificateArn',
      arn: config.domainCertificateArn,
      host: config.domainName,
      region: 'us-east-1',
      why: 'CloudFront only uses certificates from us-east-1',
    },
    {
      key: 'rtmpsCertificateArn',
      arn: config.rtmpsCertificateArn,
      host: config.ingestDomainName,
      region,
      why: "the NLB only uses certificates of the stack's region",
    },
  ].filter((w): w is typeof w & { arn: string } => w.arn !== undefined);
  if (wanted.length === 0) return [ok('Certificates', 'none configured')];
  const results: CheckResult[] = [];
  for (const w of wanted) {
    const name = `Certificate (keyframe:${w.key})`;
    const certRegion = arnRegion(w.arn);
    if (w.region && certRegion !== w.region) {
      const fix = `request or import a certificate in ${w.region} and use its ARN`;
      results.push(fail(name, `it is in ${certRegion}, but ${w.why} (${w.region})`, fix));
      continue;
    }
    try {
      const cert = await aws.certificate(w.arn);
      if (cert.status !== 'ISSUED') {
        const fix = cert.status === 'PENDING_VALIDATION' ? 'finish its DNS or email validation in ACM' : 'use an issued certificate';
        results.push(fail(name, `status ${cert.status}`, fix));
      } else if (w.host && !certificateCovers(cert.names, w.host)) {
        results.push(fail(name, `issued for ${cert.names.join(', ')}, which does not cover ${w.host}`, `use a certificate for ${w.host}`));
      } else {
        results.push(ok(name, `issued${w.host ? `, covers ${w.host}` : ''}`));
      }
    } catch (err) {
      results.push(fail(name, `could not read it: ${message(err)}`, 'check the ARN, and that these credentials may call acm:DescribeCertificate'));
    }
  }
  return results;
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' };

/** The report: one line per check, its fix indented below it. */
export function formatReport(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = results.flatMap((r) => [
    `[${MARK[r.status]}] ${r.name.padEnd(width)}  ${r.detail}`,
    ...(r.fix ? [`${' '.repeat(width + 9)}fix: ${r.fix}`] : []),
  ]);
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  const ready = `Ready for \`npx cdk deploy\`${warned ? ` (${warned} warning(s) above)` : ''}.`;
  lines.push('', failed > 0 ? `${failed} problem(s) to fix before \`npx cdk deploy\`.` : ready);
  return `${lines.join('\n')}\n`;
}

/** `keyframe doctor`: prints the report; exit code 1 when a check failed. */
export async function runDoctor(
  opts: { region?: string; json?: boolean },
  out: (s: string) => void,
  deps: DoctorDeps = defaultDoctorDeps(),
): Promise<number> {
  const results = await doctor(deps, opts);
  out(opts.json ? `${JSON.stringify(results, null, 2)}\n` : formatReport(results));
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}

/** The real machine: cdk.json of this repository, `docker` on PATH, the AWS SDK's credential chain. */
export function defaultDoctorDeps(): DoctorDeps {
  let context: Record<string, unknown> = {};
  try {
    context = (JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
  } catch {
    // No cdk.json (the CLI run outside the repository): the defaults apply.
  }
  return {
    aws: sdkAwsProbe(),
    run: (command, args) =>
      new Promise((resolve) => {
        execFile(command, [...args], { timeout: 15_000 }, (err, stdout, stderr) => {
          const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
          resolve({ code, stdout: String(stdout), stderr: err && !stderr ? err.message : String(stderr) });
        });
      }),
    exists: existsSync,
    docker: cliSettings.load().docker,
    context,
    nodeVersion: process.version,
    hostArch: arch(),
    platform: platform(),
  };
}

/** SHA-256 (and HMAC-SHA256 with a key) in the shape SignatureV4 expects, from node:crypto. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array =>
  typeof data === 'string'
    ? data
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

class Sha256 {
  private readonly hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

export interface SigV4CallOptions {
  readonly service: string;
  readonly region: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** @default https://<service>.<region>.amazonaws.com */
  readonly endpoint?: string;
  readonly credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>;
  readonly timeoutMs?: number;
}

/** One signed AWS API call (for the services this package has no SDK client for); returns the parsed JSON body. */
export async function signedJsonCall(opts: SigV4CallOptions): Promise<unknown> {
  const url = new URL(opts.path, opts.endpoint ?? `https://${opts.service}.${opts.region}.amazonaws.com`);
  const signer = new SignatureV4({ service: opts.service, region: opts.region, credentials: opts.credentials, sha256: Sha256 });
  const signed = await signer.sign({
    method: opts.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { host: url.host, ...(opts.headers ?? {}) },
    body: opts.body,
  });
  const res = await fetch(url, {
    method: opts.method,
    headers: signed.headers as Record<string, string>,
    body: opts.body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  const json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  if (!res.ok) {
    const why = String(json.message ?? json.Message ?? json.__type ?? text).slice(0, 200);
    throw new Error(`${opts.service} answered ${res.status}: ${why}`);
  }
  return json;
}

/** The AWS probe over the SDK's credential chain: CloudFormation through its client, Lambda and ACM signed directly. */
export function sdkAwsProbe(opts: { endpoints?: { lambda?: string; acm?: string } } = {}): AwsProbe {
  const base = new CloudFormationClient({});
  const credentials = () => base.config.credentials();
  return {
    defaultRegion: async () => {
      try {
        return await base.config.region();
      } catch {
        return undefined;
      }
    },
    credentials: async () => {
      try {
        await credentials();
        return { ok: true };
      } catch (err) {
        return { ok: false, reason: message(err).split('\n')[0] };
      }
    },
    async bootstrapVersion(region) {
      const client = new CloudFormationClient({ region });
      try {
        const out = await client.send(new DescribeStacksCommand({ StackName: 'CDKToolkit' }));
        const version = out.Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'BootstrapVersion')?.OutputValue;
        return version === undefined ? undefined : Number(version);
      } catch (err) {
        if (/does not exist/i.test(message(err))) return undefined;
        throw err;
      }
    },
    async lambdaConcurrency(region) {
      const body = (await signedJsonCall({
        service: 'lambda',
        region,
        method: 'GET',
        path: '/2016-08-19/account-settings/',
        endpoint: opts.endpoints?.lambda,
        credentials,
      })) as { AccountLimit?: { ConcurrentExecutions?: number; UnreservedConcurrentExecutions?: number } };
      const limit = body.AccountLimit?.ConcurrentExecutions;
      if (typeof limit !== 'number') throw new Error('GetAccountSettings returned no AccountLimit');
      return { limit, unreserved: body.AccountLimit?.UnreservedConcurrentExecutions ?? limit };
    },
    async certificate(arn) {
      const region = arnRegion(arn) ?? 'us-east-1';
      const body = (await signedJsonCall({
        service: 'acm',
        region,
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'CertificateManager.DescribeCertificate' },
        body: JSON.stringify({ CertificateArn: arn }),
        endpoint: opts.endpoints?.acm,
        credentials,
      })) as { Certificate?: { Status?: string; DomainName?: string; SubjectAlternativeNames?: string[] } };
      const c = body.Certificate ?? {};
      const names = [c.DomainName, ...(c.SubjectAlternativeNames ?? [])].filter((n): n is string => !!n);
      return { status: c.Status ?? 'UNKNOWN', names: [...new Set(names)] };
    },
  };
}
