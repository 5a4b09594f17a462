import { parseArgs } from 'node:util';
import { createDynamoStore } from '../core/dynamo-store';
import type { ChannelStore, RecordingStore, RouteStore } from '../core/store';
import { cliSettings } from '../core/settings/cli';
import { isProcessAlive, readLocalState, stateDir } from '../local/state';
import { createKey, listKeys, mintPlaybackUrl, revokeKey, type StackUrls, updateKey, UsageError } from '../core/channels';
import { deployedPlaybackSecret, localPlaybackSecret } from './secrets';

const USAGE = `Usage: keyframe keys <command> [options]
       keyframe status [<name|playbackId>]
       keyframe playback-url <name|playbackId> [--ttl 3600]
       keyframe recordings list [<name|playbackId>] | recordings delete <id>

Commands:
  keys create <name> [--private] [--record] [--ladder [rungs]]
                                      Create a channel: prints its secret stream key (once) and playback URL.
                                      --private: playback needs a signed, expiring URL (see playback-url)
                                      --record: every publish is recorded (see recordings list)
                                      --ladder [1080p,720p,480p,360p,240p,160p]: a quality ladder (default
                                      720p,480p,360p); rungs at or above the source's height are skipped
  keys update <name|playbackId> [--record|--no-record] [--ladder [rungs]|--no-ladder]
                                      Change recording or the ladder, from the channel's next publish
  keys list                           List channels (never shows keys)
  keys revoke <name|playbackId>       Revoke a channel's key: new publishes with it are refused
  playback-url <name|playbackId>      Print a playback URL; for a private channel it carries a token valid
                                      --ttl seconds (default 3600, rounded up to the minute)
  status [<name|playbackId>]          Live or offline, on which task, and the stream's health: codecs, resolution,
                                      frame rate, bitrates, keyframe interval, jitter, and warnings to act on
  recordings list [<name|playbackId>] Recordings (newest first): id, state, start, end, duration, gaps, playback URL
  recordings delete <id>              Delete a recording's objects (the stack's or local stack's bucket, or
                                      KEYFRAME_RECORDING_BUCKET) and its entry
  doctor [--region <region>]          Preflight for \`npx cdk deploy\`: Docker, credentials, bootstrap, Lambda quota, certificates

Options:
  --json                              Print JSON instead of text
  --secret-id <arn|name>              With --stack: the playback secret (the stack's PlaybackSecretArn output)
  --stack <name>                      Use a deployed stack (reads its CloudFormation outputs; needs AWS credentials)
  --region <region>                   Region of --stack (default: AWS_REGION or your profile's)
  -h, --help                          Show this help

Without --stack, the commands use the local stack started by \`npm start\` in this directory.`;

interface Target {
  readonly store: ChannelStore & Pick<RouteStore, 'listRoutes'> & RecordingStore;
  readonly urls: StackUrls;
  readonly where: string;
  /** The playback-token key, read only when a private URL is minted. */
  readonly playbackKey: () => Promise<Buffer>;
  /** The recordings bucket (and, locally, its S3-compatible server), for `recordings delete`. */
  readonly recordingBucket?: string;
  readonly s3Endpoint?: string;
}

async function resolveTarget(opts: { stack?: string; region?: string; secretId?: string }): Promise<Target> {
  if (opts.stack) {
    const { resolveStack } = await import('./stack-outputs');
    const stack = await resolveStack({ stackName: opts.stack, region: opts.region });
    return {
      store: createDynamoStore({ tableName: stack.tableName, region: stack.region }),
      urls: {
        rtmpUrl: stack.rtmpUrl,
        playbackBaseUrl: stack.playbackBaseUrl,
        playerBaseUrl: stack.playerUrl ? stack.playbackBaseUrl : undefined,
      },
      where: `stack ${opts.stack}`,
      playbackKey: () => deployedPlaybackSecret({ secretId: opts.secretId ?? stack.playbackSecretArn, region: stack.region }),
      ...(stack.recordingBucketName ? { recordingBucket: stack.recordingBucketName } : {}),
    };
  }
  const dir = stateDir(cliSettings.load().stateDir);
  const state = await readLocalState(dir);
  if (!state || !isProcessAlive(state.pid)) {
    throw new UsageError(
      `no local stack is running (looked in ${dir}). Start it with \`npm start\` in another terminal, or pass --stack <name> for a deployed stack.`,
    );
  }
  return {
    store: createDynamoStore({ tableName: state.tableName, endpoint: state.dynamoEndpoint }),
    urls: { rtmpUrl: state.rtmpUrl, playbackBaseUrl: state.playbackBaseUrl, playerBaseUrl: state.playerBaseUrl },
    where: 'the local stack',
    playbackKey: () => localPlaybackSecret(dir),
    ...(state.recordingBucket ? { recordingBucket: state.recordingBucket } : {}),
    ...(state.s3Endpoint ? { s3Endpoint: state.s3Endpoint } : {}),
  };
}

export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  // `--ladder` alone (no list) means the default rungs: parseArgs wants a value, so it gets an empty one.
  const args = argv.map((a, i) => (a === '--ladder' && (i + 1 >= argv.length || argv[i + 1].startsWith('-')) ? '--ladder=' : a));
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      stack: { type: 'string' },
      region: { type: 'string' },
      private: { type: 'boolean', default: false },
      record: { type: 'boolean', default: false },
      'no-record': { type: 'boolean', default: false },
      ladder: { type: 'string' },
      'no-ladder': { type: 'boolean', default: false },
      ttl: { type: 'string' },
      'secret-id': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [group, command, arg, ...extra] = positionals;
  if (values.help || !group) {
    out(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const print = (text: string, json: unknown) => out(values.json ? `${JSON.stringify(json, null, 2)}\n` : text);
  const targetOpts = { stack: values.stack, region: values.region, secretId: values['secret-id'] };
  if (group === 'doctor') return (await import('./doctor')).runDoctor({ region: values.region, json: values.json }, out);
  if (group === 'status') {
    if (arg !== undefined || extra.length > 0) throw new UsageError(`unexpected arguments: ${[arg, ...extra].join(' ')}`);
    const { channelStatus, formatStatus } = await import('./status');
    const target = await resolveTarget(targetOpts);
    const statuses = await channelStatus(target.store, command, Date.now(), target.urls.playbackBaseUrl);
    print(formatStatus(statuses, target.where), statuses);
    return 0;
  }
  if (group === 'recordings') {
    const { runRecordings } = await import('./recordings');
    const target = await resolveTarget(targetOpts);
    const settings = cliSettings.load();
    // The environment wins; else what the target knows (the local stack's state, a stack's outputs).
    const bucket = settings.recordingBucket ?? target.recordingBucket;
    const s3 = settings.recordingBucket ? settings.s3Endpoint : (target.s3Endpoint ?? settings.s3Endpoint);
    return runRecordings(
      {
        command,
        arg,
        extra,
        json: values.json,
        target,
        settings: { ...settings, recordingBucket: bucket, s3Endpoint: s3 },
        region: values.region,
      },
      out,
    );
  }
  if (group === 'playback-url') {
    if (!command) throw new UsageError('playback-url needs a channel name or playback ID, e.g. keyframe playback-url my-channel');
    if (arg !== undefined || extra.length > 0) throw new UsageError(`unexpected arguments: ${[arg, ...extra].join(' ')}`);
    const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
    if (ttl !== undefined && !Number.isInteger(ttl))
      throw new UsageError(`--ttl must be a whole number of seconds, got ${JSON.stringify(values.ttl)}`);
    const target = await resolveTarget(targetOpts);
    const minted = await mintPlaybackUrl(target.store, target.urls, target.playbackKey, command, ttl);
    print(
      minted.private
        ? `${minted.playbackUrl}\n(private channel "${minted.name}"; this URL works until ${minted.expiresAt})\n`
        : `${minted.playbackUrl}\n(channel "${minted.name}" is public: no token needed)\n`,
      minted,
    );
    return 0;
  }
  if (values.private && command !== 'create') throw new UsageError('--private applies to keys create only');
  if (values.record && values['no-record']) throw new UsageError('pick one of --record and --no-record');
  if (values.record && command !== 'create' && command !== 'update') throw new UsageError('--record applies to keys create and keys update only');
  if (values['no-record'] && command !== 'update') throw new UsageError('--no-record applies to keys update only');
  if (values.ladder !== undefined && values['no-ladder']) throw new UsageError('pick one of --ladder and --no-ladder');
  if (values.ladder !== undefined && command !== 'create' && command !== 'update')
    throw new UsageError('--ladder applies to keys create and keys update only');
  if (values['no-ladder'] && command !== 'update') throw new UsageError('--no-ladder applies to keys update only');
  const ladder = values.ladder === undefined ? undefined : values.ladder === '' ? true : values.ladder;
  if (group !== 'keys' || !command) throw new UsageError(`unknown command ${JSON.stringify(positionals.join(' '))}\n\n${USAGE}`);
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);

  switch (command) {
    case 'create': {
      if (!arg) throw new UsageError('keys create needs a channel name, e.g. keyframe keys create my-channel');
      const target = await resolveTarget(targetOpts);
      const c = await createKey(target.store, target.urls, arg, { private: values.private, record: values.record, ...(ladder ? { ladder } : {}) });
      print(
        [
          `Created channel "${c.name}" on ${target.where}.`,
          '',
          `  Stream key (secret, shown only now):  ${c.streamKey}`,
          `  Playback ID (public):                 ${c.playbackId}`,
          '',
          'In OBS (Settings → Stream → Service: Custom):',
          `  Server:      ${c.rtmpUrl}`,
          `  Stream Key:  ${c.streamKey}`,
          '',
          `  Publish URL (ffmpeg):  ${c.publishUrl}`,
          `  Playback URL:          ${c.playbackUrl}`,
          ...(c.playerUrl ? [`  Player:                ${c.playerUrl}`] : []),
          ...(c.private ? ['', `  Private: playlists need a token. Mint a URL with: keyframe playback-url ${c.name} [--ttl 3600]`] : []),
          ...(c.record ? ['', `  Recording: on. Each publish is recorded; see: keyframe recordings list ${c.name}`] : []),
          ...(c.ladder.length ? ['', `  Quality ladder: source + ${c.ladder.join(', ')} (rungs below the source's height)`] : []),
          '',
        ].join('\n'),
        c,
      );
      return 0;
    }
    case 'list': {
      if (arg) throw new UsageError(`keys list takes no argument (got ${JSON.stringify(arg)})`);
      const target = await resolveTarget(targetOpts);
      const channels = await listKeys(target.store, target.urls);
      const rows = channels.map(
        (c) =>
          `  ${c.name.padEnd(24)} ${c.playbackId}  ${c.state.padEnd(8)} ${c.playbackUrl}${c.private ? '  (private)' : ''}${c.record ? '  (recorded)' : ''}${
            c.ladder.length ? `  (ladder ${c.ladder.join(',')})` : ''
          }`,
      );
      print(
        channels.length
          ? `${['  NAME'.padEnd(26) + ' PLAYBACK ID   STATE    PLAYBACK URL', ...rows].join('\n')}\n`
          : `No channels on ${target.where} yet. Create one: keyframe keys create <name>\n`,
        channels,
      );
      return 0;
    }
    case 'update': {
      if (!arg) throw new UsageError('keys update needs a channel name or playback ID, e.g. keyframe keys update my-channel --record');
      const record = values.record ? true : values['no-record'] ? false : undefined;
      const target = await resolveTarget(targetOpts);
      const u = await updateKey(target.store, arg, {
        ...(record !== undefined ? { record } : {}),
        ...(ladder !== undefined ? { ladder } : values['no-ladder'] ? { ladder: false as const } : {}),
      });
      const changes = [
        ...(record !== undefined ? [`recording ${u.record ? 'on' : 'off'}${u.record ? '' : ' (recordings made so far are kept)'}`] : []),
        ...(ladder !== undefined || values['no-ladder'] ? [u.ladder.length ? `ladder ${u.ladder.join(',')}` : 'no ladder (passthrough only)'] : []),
      ];
      print(`Channel "${u.name}" (${u.playbackId}): ${changes.join('; ')}, from its next publish.\n`, u);
      return 0;
    }
    case 'revoke': {
      if (!arg) throw new UsageError('keys revoke needs a channel name or playback ID');
      const target = await resolveTarget(targetOpts);
      const revoked = await revokeKey(target.store, arg);
      print(`Revoked channel "${revoked.name}" (${revoked.playbackId}). New publishes with its key are refused.\n`, { revoked });
      return 0;
    }
    default:
      throw new UsageError(`unknown command "keys ${command}"\n\n${USAGE}`);
  }
}
