import { randomBytes } from 'node:crypto';
import { createDynamoClient, createDynamoStore } from '../../core/dynamo-store';
import type { RoutingStore } from '../../core/store';
import { ensureTable, startLocalDynamo, type LocalDynamo } from '../../local/dynamo';

export interface TestTable {
  readonly dynamo: LocalDynamo;
  readonly tableName: string;
  readonly store: RoutingStore;
  close(): Promise<void>;
}

/** A real DynamoDB-compatible server (dynalite) on 127.0.0.1:0 with a fresh Keyframe table. */
export async function startTestTable(): Promise<TestTable> {
  const dynamo = await startLocalDynamo();
  const tableName = `keyframe-test-${randomBytes(4).toString('hex')}`;
  const client = createDynamoClient({ endpoint: dynamo.endpoint });
  await ensureTable(client, tableName);
  const store = createDynamoStore({ tableName, client });
  return {
    dynamo,
    tableName,
    store,
    async close() {
      client.destroy();
      await dynamo.close();
    },
  };
}
