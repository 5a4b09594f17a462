import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../core/table';

/** The DynamoDB actions a component may be granted. Each grant names its actions; there is no "full access". */
export type TableAction = 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query' | 'Scan';

export interface RoutingTableProps {
  /** What `cdk destroy` does with the table (it holds the stream keys). @default 'retain' */
  readonly removalPolicy?: 'retain' | 'destroy';
  /** @default false */
  readonly deletionProtection?: boolean;
}

/**
 * The single routing table (channels, name locks, routes, tasks): keys, GSI and TTL from
 * core/table.ts, the same schema the local stack builds. On-demand, point-in-time recovery on,
 * retained by default so stream keys survive a `cdk destroy`.
 */
export class RoutingTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string, props: RoutingTableProps = {}) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      deletionProtection: props.deletionProtection ?? false,
      removalPolicy: props.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: TABLE_SCHEMA.gsi1.name,
      partitionKey: { name: TABLE_SCHEMA.gsi1.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.gsi1.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /** The ARNs a grant covers: the table and its one index, by name (no `index/*`). */
  get resourceArns(): string[] {
    return [this.table.tableArn, `${this.table.tableArn}/index/${TABLE_SCHEMA.gsi1.name}`];
  }

  /** Grants exactly these actions on the table and its index. */
  grant(grantee: IGrantable, actions: readonly TableAction[]): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: actions.map((a) => `dynamodb:${a}`),
      resourceArns: this.resourceArns,
    });
  }
}
