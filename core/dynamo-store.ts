import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { ChannelExistsError, ConditionFailedError } from './errors';
import type { Channel, Recording, RecordingGap, RecordingState, Route, StreamHealthReport, TaskRecord, TaskStatus } from './model';
import type { RoutingStore, TaskStateResult } from './store';
import { keys, TABLE_SCHEMA } from './table';

type Item = Record<string, AttributeValue>;

/** How long a STOPPED task's tombstone is kept, so late events for it stay stale. */
const TASK_TOMBSTONE_SECONDS = 7 * 24 * 3600;
/** Route items outlive their `expiresAt` by this much before DynamoDB TTL may remove them. */
const ROUTE_TTL_GRACE_SECONDS = 3600;

export interface DynamoStoreOptions {
  readonly tableName: string;
  /** e.g. `http://127.0.0.1:4567` for the local stack; unset in AWS. */
  readonly endpoint?: string;
  readonly region?: string;
  readonly client?: DynamoDBClient;
}

export function createDynamoClient(opts: { endpoint?: string; region?: string } = {}): DynamoDBClient {
  const local = opts.endpoint !== undefined;
  return new DynamoDBClient({
    // In AWS the SDK takes the region from the runtime (AWS_REGION); the local server needs some region.
    region: opts.region ?? (local ? 'local' : undefined),
    endpoint: opts.endpoint,
    // The local DynamoDB-compatible server accepts any credentials; never pick up a real profile for it.
    credentials: local ? { accessKeyId: 'local', secretAccessKey: 'local' } : undefined,
    maxAttempts: 3,
  });
}

const s = (v: string): AttributeValue => ({ S: v });
const n = (v: number): AttributeValue => ({ N: String(v) });
const str = (item: Item, name: string): string => item[name]?.S ?? '';
const num = (item: Item, name: string): number => Number(item[name]?.N ?? '0');

function isConditionFailure(err: unknown): boolean {
  return (
    err instanceof ConditionalCheckFailedException ||
    (typeof err === 'object' && err !== null && (err as { name?: string }).name === 'ConditionalCheckFailedException')
  );
}

function channelFromItem(item: Item): Channel {
  return {
    playbackId: str(item, 'playbackId'),
    name: str(item, 'name'),
    keyHash: str(item, 'keyHash'),
    state: str(item, 'state') === 'revoked' ? 'revoked' : 'active',
    createdAt: str(item, 'createdAt'),
    ...(item.private?.BOOL === true ? { private: true } : {}),
    ...(item.record?.BOOL === true ? { record: true } : {}),
    ...ladderOf(item),
  };
}

function ladderOf(item: Item): { ladder?: readonly string[] } {
  const list = item.ladder?.L?.map((v) => v.S ?? '').filter((s) => s.length > 0);
  return list && list.length > 0 ? { ladder: list } : {};
}

const ladderAttribute = (ladder: readonly string[]): AttributeValue => ({ L: ladder.map((r) => s(r)) });

function routeFromItem(item: Item): Route {
  return {
    playbackId: str(item, 'playbackId'),
    taskArn: str(item, 'taskArn'),
    host: str(item, 'host'),
    port: num(item, 'port'),
    session: str(item, 'session'),
    startedAt: num(item, 'startedAt'),
    heartbeatAt: num(item, 'heartbeatAt'),
    expiresAt: num(item, 'expiresAt'),
    mediaSequence: num(item, 'mediaSequence'),
    discontinuitySequence: num(item, 'discontinuitySequence'),
    ...(item.private?.BOOL === true ? { private: true } : {}),
    ...(item.recordingId?.S ? { recordingId: item.recordingId.S } : {}),
    ...healthOf(item),
  };
}

/** Health is kept as one JSON string, bounded so a route item stays one read unit (4 KB). */
const MAX_HEALTH_BYTES = 2048;

function healthAttribute(health: StreamHealthReport): string | undefined {
  const json = JSON.stringify(health);
  if (Buffer.byteLength(json) <= MAX_HEALTH_BYTES) return json;
  // Too many warnings: keep the measurements and the first warnings that fit.
  const trimmed = { ...health, warnings: health.warnings.slice(0, 3) };
  const again = JSON.stringify(trimmed);
  return Buffer.byteLength(again) <= MAX_HEALTH_BYTES ? again : undefined;
}

function healthOf(item: Item): { health?: StreamHealthReport } {
  const raw = item.health?.S;
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as StreamHealthReport;
    return parsed && Array.isArray(parsed.warnings) ? { health: parsed } : {};
  } catch {
    return {};
  }
}

function routeToItem(route: Route): Item {
  return {
    ...toKey(keys.route(route.playbackId)),
    gsi1pk: s(keys.routesOfTask(route.taskArn)),
    gsi1sk: s(`ROUTE#${route.playbackId}`),
    playbackId: s(route.playbackId),
    taskArn: s(route.taskArn),
    host: s(route.host),
    port: n(route.port),
    session: s(route.session),
    startedAt: n(route.startedAt),
    heartbeatAt: n(route.heartbeatAt),
    expiresAt: n(route.expiresAt),
    mediaSequence: n(route.mediaSequence),
    discontinuitySequence: n(route.discontinuitySequence),
    ...(route.private === true ? { private: { BOOL: true } } : {}),
    ...(route.recordingId ? { recordingId: s(route.recordingId) } : {}),
    [TABLE_SCHEMA.ttlAttribute]: n(Math.ceil(route.expiresAt / 1000) + ROUTE_TTL_GRACE_SECONDS),
  };
}

function taskFromItem(item: Item): TaskRecord {
  const ip = item.ip?.S;
  return {
    taskArn: str(item, 'taskArn'),
    ...(ip ? { ip } : {}),
    status: str(item, 'status') as TaskStatus,
    version: num(item, 'version'),
    updatedAt: str(item, 'updatedAt'),
  };
}

/** Recording items (docs/architecture.md, "Table"): one per recording, indexed by channel and start time. */
const recordingKeys = {
  item: (id: string) => ({ pk: `REC#${id}`, sk: 'RECORDING' }),
  ofChannel: (playbackId: string) => `RECS#${playbackId}`,
  /** gsi1sk: ISO start time then id, so a channel's recordings sort by start. */
  order: (r: Recording) => `${new Date(r.startedAt).toISOString()}#${r.id}`,
} as const;

const RECORDING_STATES: readonly RecordingState[] = ['recording', 'ready', 'failed', 'incomplete'];

function recordingToItem(r: Recording): Item {
  return {
    ...toKey(recordingKeys.item(r.id)),
    gsi1pk: s(recordingKeys.ofChannel(r.playbackId)),
    gsi1sk: s(recordingKeys.order(r)),
    id: s(r.id),
    playbackId: s(r.playbackId),
    channelName: s(r.channelName),
    state: s(r.state),
    startedAt: n(r.startedAt),
    ...(r.endedAt !== undefined ? { endedAt: n(r.endedAt) } : {}),
    durationSeconds: n(r.durationSeconds),
    segmentCount: n(r.segmentCount),
    // Gaps are few (one per outage longer than the spool holds); one JSON string keeps the item one write.
    gaps: s(JSON.stringify(r.gaps)),
    updatedAt: n(r.updatedAt),
    ...(r.private ? { private: { BOOL: true } } : {}),
  };
}

function recordingFromItem(item: Item): Recording {
  const state = str(item, 'state') as RecordingState;
  let gaps: RecordingGap[] = [];
  try {
    const parsed = JSON.parse(item.gaps?.S ?? '[]') as unknown;
    if (Array.isArray(parsed)) gaps = parsed as RecordingGap[];
  } catch {
    gaps = [];
  }
  return {
    id: str(item, 'id'),
    playbackId: str(item, 'playbackId'),
    channelName: str(item, 'channelName'),
    state: RECORDING_STATES.includes(state) ? state : 'failed',
    startedAt: num(item, 'startedAt'),
    ...(item.endedAt?.N !== undefined ? { endedAt: num(item, 'endedAt') } : {}),
    durationSeconds: num(item, 'durationSeconds'),
    segmentCount: num(item, 'segmentCount'),
    gaps,
    updatedAt: num(item, 'updatedAt'),
    ...(item.private?.BOOL === true ? { private: true } : {}),
  };
}

function toKey(k: { pk: string; sk: string }): Item {
  return { pk: s(k.pk), sk: s(k.sk) };
}

/** The DynamoDB adapter of the routing store. Every state change that can race is a conditional write. */
export function createDynamoStore(opts: DynamoStoreOptions): RoutingStore {
  const client = opts.client ?? createDynamoClient(opts);
  const TableName = opts.tableName;

  /** Follows LastEvaluatedKey until the last page. */
  async function allPages(page: (ExclusiveStartKey?: Item) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>): Promise<Item[]> {
    const items: Item[] = [];
    let next: Item | undefined;
    do {
      const out = await page(next);
      items.push(...(out.Items ?? []));
      next = out.LastEvaluatedKey;
    } while (next);
    return items;
  }

  function queryAll(input: { index?: string; keyCondition: string; values: Item; names?: Record<string, string> }): Promise<Item[]> {
    return allPages((ExclusiveStartKey) =>
      client.send(
        new QueryCommand({
          TableName,
          IndexName: input.index,
          KeyConditionExpression: input.keyCondition,
          ExpressionAttributeValues: input.values,
          ExpressionAttributeNames: input.names,
          ExclusiveStartKey,
        }),
      ),
    );
  }

  async function conditional<T>(write: () => Promise<T>): Promise<T | typeof LOST> {
    try {
      return await write();
    } catch (err) {
      if (isConditionFailure(err)) return LOST;
      throw err;
    }
  }

  return {
    async createChannel({ name, keyHash, playbackId, private: isPrivate, record, ladder }) {
      const createdAt = new Date().toISOString();
      const locked = await conditional(() =>
        client.send(
          new PutItemCommand({
            TableName,
            Item: { ...toKey(keys.nameLock(name)), keyHash: s(keyHash), playbackId: s(playbackId) },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      if (locked === LOST) throw new ChannelExistsError(name);
      const channel: Channel = {
        playbackId,
        name,
        keyHash,
        state: 'active',
        createdAt,
        ...(isPrivate ? { private: true } : {}),
        ...(record ? { record: true } : {}),
        ...(ladder && ladder.length > 0 ? { ladder: [...ladder] } : {}),
      };
      const written = await conditional(() =>
        client.send(
          new PutItemCommand({
            TableName,
            Item: {
              ...toKey(keys.channel(keyHash)),
              gsi1pk: s(keys.channelIndex),
              gsi1sk: s(name),
              playbackId: s(playbackId),
              name: s(name),
              keyHash: s(keyHash),
              state: s('active'),
              createdAt: s(createdAt),
              ...(isPrivate ? { private: { BOOL: true } } : {}),
              ...(record ? { record: { BOOL: true } } : {}),
              ...(ladder && ladder.length > 0 ? { ladder: ladderAttribute(ladder) } : {}),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        ),
      );
      if (written === LOST) {
        await client.send(new DeleteItemCommand({ TableName, Key: toKey(keys.nameLock(name)) }));
        throw new ConditionFailedError('a channel with this key hash already exists');
      }
      return channel;
    },

    async getChannelByKeyHash(keyHash) {
      const out = await client.send(new GetItemCommand({ TableName, Key: toKey(keys.channel(keyHash)), ConsistentRead: true }));
      return out.Item ? channelFromItem(out.Item) : undefined;
    },

    async listChannels() {
      const items = await queryAll({
        index: TABLE_SCHEMA.gsi1.name,
        keyCondition: 'gsi1pk = :c',
        values: { ':c': s(keys.channelIndex) },
      });
      return items.map(channelFromItem);
    },

    async revokeChannel(nameOrPlaybackId) {
      const channels = await this.listChannels();
      const target = channels.find((c) => c.state === 'active' && (c.name === nameOrPlaybackId || c.playbackId === nameOrPlaybackId));
      if (!target) return undefined;
      const updated = await conditional(() =>
        client.send(
          new UpdateItemCommand({
            TableName,
            Key: toKey(keys.channel(target.keyHash)),
            UpdateExpression: 'SET #state = :revoked, revokedAt = :at',
            ConditionExpression: '#state = :active',
            ExpressionAttributeNames: { '#state': 'state' },
            ExpressionAttributeValues: { ':revoked': s('revoked'), ':active': s('active'), ':at': s(new Date().toISOString()) },
          }),
        ),
      );
      if (updated === LOST) return undefined;
      // Free the name for a new channel, but only if the lock still belongs to this key.
      await conditional(() =>
        client.send(
          new DeleteItemCommand({
            TableName,
            Key: toKey(keys.nameLock(target.name)),
            ConditionExpression: 'keyHash = :h',
            ExpressionAttributeValues: { ':h': s(target.keyHash) },
          }),
        ),
      );
      return { ...target, state: 'revoked' };
    },

    async updateChannel(nameOrPlaybackId, options) {
      const channels = await this.listChannels();
      const target = channels.find((c) => c.state === 'active' && (c.name === nameOrPlaybackId || c.playbackId === nameOrPlaybackId));
      if (!target) return undefined;
      // Absent means off, as for `private`: the item stays as a channel created without the option.
      const set: string[] = [];
      const remove: string[] = [];
      const names: Record<string, string> = { '#state': 'state' };
      const values: Record<string, AttributeValue> = { ':active': s('active') };
      if (options.record !== undefined) {
        names['#record'] = 'record';
        if (options.record) {
          set.push('#record = :record');
          values[':record'] = { BOOL: true };
        } else remove.push('#record');
      }
      if (options.ladder !== undefined) {
        names['#ladder'] = 'ladder';
        if (options.ladder && options.ladder.length > 0) {
          set.push('#ladder = :ladder');
          values[':ladder'] = ladderAttribute(options.ladder);
        } else remove.push('#ladder');
      }
      if (set.length === 0 && remove.length === 0) return target;
      const updated = await conditional(() =>
        client.send(
          new UpdateItemCommand({
            TableName,
            Key: toKey(keys.channel(target.keyHash)),
            UpdateExpression: [set.length ? `SET ${set.join(', ')}` : '', remove.length ? `REMOVE ${remove.join(', ')}` : '']
              .filter(Boolean)
              .join(' '),
            ConditionExpression: '#state = :active',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        ),
      );
      if (updated === LOST) return undefined;
      const { record: _record, ladder: _ladder, ...rest } = target;
      const record = options.record ?? target.record;
      const ladder = options.ladder === undefined ? target.ladder : (options.ladder ?? undefined);
      return { ...rest, ...(record ? { record: true } : {}), ...(ladder && ladder.length > 0 ? { ladder: [...ladder] } : {}) };
    },

    async putRoute(route) {
      const out = await client.send(new PutItemCommand({ TableName, Item: routeToItem(route), ReturnValues: 'ALL_OLD' }));
      return out.Attributes ? routeFromItem(out.Attributes) : undefined;
    },

    async getRoute(playbackId) {
      const out = await client.send(new GetItemCommand({ TableName, Key: toKey(keys.route(playbackId)) }));
      return out.Item ? routeFromItem(out.Item) : undefined;
    },

    async heartbeatRoute({ playbackId, taskArn, session, heartbeatAt, expiresAt, mediaSequence, health }) {
      const healthJson = health ? healthAttribute(health) : undefined;
      const result = await conditional(() =>
        client.send(
          new UpdateItemCommand({
            TableName,
            Key: toKey(keys.route(playbackId)),
            UpdateExpression: `SET heartbeatAt = :hb, expiresAt = :exp, mediaSequence = :seq, #ttl = :ttl${healthJson ? ', health = :health' : ''}`,
            ConditionExpression: 'taskArn = :task AND #session = :session',
            ExpressionAttributeNames: { '#session': 'session', '#ttl': TABLE_SCHEMA.ttlAttribute },
            ExpressionAttributeValues: {
              ':hb': n(heartbeatAt),
              ':exp': n(expiresAt),
              ':seq': n(mediaSequence),
              ':ttl': n(Math.ceil(expiresAt / 1000) + ROUTE_TTL_GRACE_SECONDS),
              ':task': s(taskArn),
              ':session': s(session),
              ...(healthJson ? { ':health': s(healthJson) } : {}),
            },
          }),
        ),
      );
      if (result === LOST) {
        throw new ConditionFailedError(`route ${playbackId} no longer belongs to session ${session}`);
      }
    },

    async deleteRoute(playbackId, taskArn, session) {
      const result = await conditional(() =>
        client.send(
          new DeleteItemCommand({
            TableName,
            Key: toKey(keys.route(playbackId)),
            ConditionExpression: 'taskArn = :task AND #session = :session',
            ExpressionAttributeNames: { '#session': 'session' },
            ExpressionAttributeValues: { ':task': s(taskArn), ':session': s(session) },
          }),
        ),
      );
      return result !== LOST;
    },

    async deleteRouteOfTask(playbackId, taskArn) {
      const result = await conditional(() =>
        client.send(
          new DeleteItemCommand({
            TableName,
            Key: toKey(keys.route(playbackId)),
            ConditionExpression: 'taskArn = :task',
            ExpressionAttributeValues: { ':task': s(taskArn) },
          }),
        ),
      );
      return result !== LOST;
    },

    async listRoutesOfTask(taskArn) {
      const items = await queryAll({
        index: TABLE_SCHEMA.gsi1.name,
        keyCondition: 'gsi1pk = :t',
        values: { ':t': s(keys.routesOfTask(taskArn)) },
      });
      return items.map(routeFromItem);
    },

    async listRoutes() {
      const items = await allPages((ExclusiveStartKey) =>
        client.send(
          new ScanCommand({
            TableName,
            FilterExpression: 'begins_with(pk, :p)',
            ExpressionAttributeValues: { ':p': s('ROUTE#') },
            ExclusiveStartKey,
          }),
        ),
      );
      return items.map(routeFromItem);
    },

    async applyTaskState({ taskArn, ip, status, version, at }): Promise<TaskStateResult> {
      const names: Record<string, string> = { '#status': 'status', '#version': 'version', '#ttl': TABLE_SCHEMA.ttlAttribute };
      const values: Item = {
        ':arn': s(taskArn),
        ':status': s(status),
        ':version': n(version),
        ':at': s(at),
      };
      let set = 'taskArn = :arn, #status = :status, #version = :version, updatedAt = :at';
      if (ip) {
        set += ', ip = :ip';
        values[':ip'] = s(ip);
      }
      let update = `SET ${set}`;
      if (status === 'STOPPED') {
        update += ', #ttl = :ttl';
        values[':ttl'] = n(Math.floor(Date.now() / 1000) + TASK_TOMBSTONE_SECONDS);
      } else {
        update += ' REMOVE #ttl';
      }
      const result = await conditional(() =>
        client.send(
          new UpdateItemCommand({
            TableName,
            Key: toKey(keys.task(taskArn)),
            UpdateExpression: update,
            // STOPPED is terminal: it wins over any other state, once. Any other state needs a newer
            // version and a task that has not stopped, so late or repeated events never resurrect a task.
            ConditionExpression:
              status === 'STOPPED'
                ? 'attribute_not_exists(#version) OR #status <> :status'
                : 'attribute_not_exists(#version) OR (#version < :version AND #status <> :stopped)',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: status === 'STOPPED' ? values : { ...values, ':stopped': s('STOPPED') },
          }),
        ),
      );
      return result === LOST ? 'stale' : 'applied';
    },

    async getTask(taskArn) {
      const out = await client.send(new GetItemCommand({ TableName, Key: toKey(keys.task(taskArn)), ConsistentRead: true }));
      return out.Item ? taskFromItem(out.Item) : undefined;
    },

    async putRecording(recording) {
      await client.send(new PutItemCommand({ TableName, Item: recordingToItem(recording) }));
    },

    async getRecording(id) {
      const out = await client.send(new GetItemCommand({ TableName, Key: toKey(recordingKeys.item(id)), ConsistentRead: true }));
      return out.Item ? recordingFromItem(out.Item) : undefined;
    },

    async listRecordingsOfChannel(playbackId) {
      const items = await queryAll({
        index: TABLE_SCHEMA.gsi1.name,
        keyCondition: 'gsi1pk = :r',
        values: { ':r': s(recordingKeys.ofChannel(playbackId)) },
      });
      return items.map(recordingFromItem).sort((a, b) => b.startedAt - a.startedAt || (a.id < b.id ? 1 : -1));
    },

    async deleteRecording(id) {
      const out = await client.send(new DeleteItemCommand({ TableName, Key: toKey(recordingKeys.item(id)), ReturnValues: 'ALL_OLD' }));
      return out.Attributes ? recordingFromItem(out.Attributes) : undefined;
    },
  };
}

const LOST = Symbol('condition-lost');
