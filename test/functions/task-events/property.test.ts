import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSessionId, type Route, type TaskStatus } from '../../../core/model';
import { applyTaskEvent } from '../../../functions/task-events/apply';
import { startTestTable, type TestTable } from '../../support/dynamo';
import { taskEvent } from '../../support/events';

/**
 * Random interleavings of task lifecycles, replayed against the real DynamoDB-compatible server.
 *
 * The world: a few tasks, each going through a prefix of the ECS lifecycle; while RUNNING a task publishes
 * streams (writes routes at once, as the ingest does). Each state change becomes an event that EventBridge
 * delivers at any later time, possibly more than once. After everything is delivered, the table must equal
 * the truth: each task's record shows its last state, a stopped task is never resurrected, and no route
 * points at a stopped task, while the routes of live tasks are untouched.
 */
const LIFECYCLE: TaskStatus[] = ['PROVISIONING', 'PENDING', 'ACTIVATING', 'RUNNING', 'DEACTIVATING', 'STOPPING', 'DEPROVISIONING', 'STOPPED'];
const PLAYBACK_IDS = ['AAAAAAAAAAA1', 'AAAAAAAAAAA2', 'AAAAAAAAAAA3'];

type Occurrence = { kind: 'event'; task: number; version: number; status: TaskStatus } | { kind: 'publish'; task: number; playbackId: string };

interface Scenario {
  /** Per task: how far through the lifecycle it gets (index into LIFECYCLE). */
  readonly reach: number[];
  /** Publishes per task, made while it is RUNNING. */
  readonly publishes: Array<Array<string>>;
  /** A seed for the interleaving and for the delivery delays and duplicates. */
  readonly order: number[];
  readonly duplicates: number[];
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.integer({ min: 1, max: 3 }).chain((tasks) =>
  fc.record({
    reach: fc.array(fc.integer({ min: 0, max: LIFECYCLE.length - 1 }), { minLength: tasks, maxLength: tasks }),
    publishes: fc.array(fc.array(fc.constantFrom(...PLAYBACK_IDS), { maxLength: 3 }), { minLength: tasks, maxLength: tasks }),
    order: fc.array(fc.nat(), { minLength: 64, maxLength: 64 }),
    duplicates: fc.array(fc.nat({ max: 2 }), { minLength: 32, maxLength: 32 }),
  }),
);

/** The real-time order of what happens: each task's lifecycle in order, tasks interleaved by the seed. */
function occurrences(s: Scenario): Occurrence[][] {
  return s.reach.map((reach, task) => {
    const out: Occurrence[] = [];
    LIFECYCLE.slice(0, reach + 1).forEach((status, i) => {
      out.push({ kind: 'event', task, version: i + 1, status });
      if (status === 'RUNNING') for (const playbackId of s.publishes[task]) out.push({ kind: 'publish', task, playbackId });
    });
    return out;
  });
}

let t: TestTable;
beforeAll(async () => {
  t = await startTestTable();
});
afterAll(async () => {
  await t.close();
});

let runs = 0;
let wrong = 0;

describe('task events in any order (property)', () => {
  it('the final table equals the truth for random interleavings, delays and duplicates', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        runs++;
        // Each run has its own tasks and playback IDs, so runs never see each other's items.
        const run = newSessionId();
        const arn = (task: number) => `arn:aws:ecs:us-east-1:111122223333:task/keyframe-ingest/${run}-${task}`;
        const playback = (id: string) => `${id.slice(0, 6)}${run.slice(0, 6)}`;
        const perTask = occurrences(s);
        const cursors = perTask.map(() => 0);
        const pending: Array<{ task: number; version: number; status: TaskStatus }> = [];
        const truthRoutes = new Map<string, number>(); // playbackId → task that owns it (last publish wins)
        let step = 0;
        const pick = (n: number) => s.order[step++ % s.order.length] % n;

        // Interleave: at each step either a task makes progress (its next occurrence happens), or a pending
        // event is delivered (possibly again later: duplicates).
        for (;;) {
          const live = perTask.map((occ, i) => (cursors[i] < occ.length ? i : -1)).filter((i) => i >= 0);
          if (live.length === 0 && pending.length === 0) break;
          const deliver = pending.length > 0 && (live.length === 0 || pick(2) === 0);
          if (deliver) {
            const idx = pick(pending.length);
            const ev = pending[idx];
            if (s.duplicates[step % s.duplicates.length] === 0 || pending.length > 8) pending.splice(idx, 1);
            await applyTaskEvent(taskEvent(arn(ev.task), ev.status, ev.version), { store: t.store });
          } else {
            const task = live[pick(live.length)];
            const occ = perTask[task][cursors[task]++];
            if (occ.kind === 'event') pending.push(occ);
            else {
              const now = Date.now();
              const route: Route = {
                playbackId: playback(occ.playbackId),
                taskArn: arn(task),
                host: `10.0.0.${task + 1}`,
                port: 8080,
                session: newSessionId(),
                startedAt: now,
                heartbeatAt: now,
                expiresAt: now + 60_000,
                mediaSequence: 0,
                discontinuitySequence: 0,
              };
              await t.store.putRoute(route);
              truthRoutes.set(route.playbackId, task);
            }
          }
        }

        // The truth: each task's last state; routes survive only on tasks that did not stop.
        let ok = true;
        for (let task = 0; task < s.reach.length; task++) {
          const record = await t.store.getTask(arn(task));
          const expected = LIFECYCLE[s.reach[task]];
          if (record?.status !== expected || record.version !== s.reach[task] + 1) ok = false;
        }
        for (const [playbackId, task] of truthRoutes) {
          const route = await t.store.getRoute(playbackId);
          const stopped = LIFECYCLE[s.reach[task]] === 'STOPPED';
          if (stopped ? route !== undefined : route?.taskArn !== arn(task)) ok = false;
        }
        if (!ok) wrong++;
        expect(ok).toBe(true);
      }),
      {
        numRuns: Number(process.env.KEYFRAME_PROPERTY_RUNS ?? 150),
        seed: process.env.KEYFRAME_PROPERTY_SEED ? Number(process.env.KEYFRAME_PROPERTY_SEED) : undefined,
      },
    );
    console.log(`task-events property: ${runs} shuffled event sequences, ${wrong} wrong final states`);
    expect(runs).toBeGreaterThanOrEqual(100);
  }, 120_000);
});
