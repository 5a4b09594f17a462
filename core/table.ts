/** The single table's schema. CDK (infra/) and the local stack (local/) both build the table from this. */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  gsi1: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  ttlAttribute: 'ttl',
} as const;

export const keys = {
  channel: (keyHash: string) => ({ pk: `KEY#${keyHash}`, sk: 'CHANNEL' }),
  nameLock: (name: string) => ({ pk: `NAME#${name}`, sk: 'NAME' }),
  route: (playbackId: string) => ({ pk: `ROUTE#${playbackId}`, sk: 'ROUTE' }),
  task: (taskArn: string) => ({ pk: `TASK#${taskArn}`, sk: 'TASK' }),
  channelIndex: 'CHANNEL',
  routesOfTask: (taskArn: string) => `TASK#${taskArn}`,
} as const;
