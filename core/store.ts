import type { Channel, Recording, Route, StreamHealthReport, TaskRecord, TaskStatus } from './model';

/**
 * The routing store. One interface, two users: the Lambda functions and the ingest task. The DynamoDB
 * adapter (./dynamo-store) is the only implementation shipped; tests run it against a real
 * DynamoDB-compatible server.
 */
export interface ChannelStore {
  /** Throws ChannelExistsError when an active channel already has that name. */
  createChannel(input: {
    name: string;
    keyHash: string;
    playbackId: string;
    private?: boolean;
    record?: boolean;
    /** Rung names (core/ladder.ts), highest first. */
    ladder?: readonly string[];
  }): Promise<Channel>;
  /** Strongly consistent: the publish path authorizes with it. */
  getChannelByKeyHash(keyHash: string): Promise<Channel | undefined>;
  listChannels(): Promise<Channel[]>;
  /** Revokes the active channel with that name or playback ID. Returns it, or undefined if none matched. */
  revokeChannel(nameOrPlaybackId: string): Promise<Channel | undefined>;
  /** Changes the options of the active channel with that name or playback ID. Returns it changed, or undefined if none matched. */
  updateChannel(nameOrPlaybackId: string, options: ChannelOptionsUpdate): Promise<Channel | undefined>;
}

/** What `updateChannel` changes: an absent field stays as it is; `ladder: null` turns the ladder off. */
export interface ChannelOptionsUpdate {
  readonly record?: boolean;
  readonly ladder?: readonly string[] | null;
}

export interface RouteStore {
  /**
   * Points the playback ID at this task and session (a newer publish takes over from an older one).
   * Returns the route it replaced, if any, so the new session can continue its media sequence.
   */
  putRoute(route: Route): Promise<Route | undefined>;
  getRoute(playbackId: string): Promise<Route | undefined>;
  /** Extends the route's expiry; throws ConditionFailedError when the route is no longer this session's. */
  heartbeatRoute(input: {
    playbackId: string;
    taskArn: string;
    session: string;
    heartbeatAt: number;
    expiresAt: number;
    mediaSequence: number;
    /** The stream's health now (replaces the last one). */
    health?: StreamHealthReport;
  }): Promise<void>;
  /** Compare-and-delete: removes the route only if it still belongs to this task and session. */
  deleteRoute(playbackId: string, taskArn: string, session: string): Promise<boolean>;
  /** Removes the route only if it still points at this task (task STOPPED). */
  deleteRouteOfTask(playbackId: string, taskArn: string): Promise<boolean>;
  listRoutesOfTask(taskArn: string): Promise<Route[]>;
  /** Every route item, live or expired. Small tables only: it scans. */
  listRoutes(): Promise<Route[]>;
}

export type TaskStateResult = 'applied' | 'stale';

export interface TaskStore {
  /**
   * Writes the task's state if `version` is newer than the stored one. A STOPPED record is kept as a
   * tombstone (with a TTL) so a late, older RUNNING event cannot resurrect the task.
   */
  applyTaskState(input: { taskArn: string; ip?: string; status: TaskStatus; version: number; at: string }): Promise<TaskStateResult>;
  getTask(taskArn: string): Promise<TaskRecord | undefined>;
}

/** Recording metadata (the objects themselves are in S3; docs/recording.md). */
export interface RecordingStore {
  /** Creates or replaces the recording's item (the recorder is its only writer while it records). */
  putRecording(recording: Recording): Promise<void>;
  getRecording(id: string): Promise<Recording | undefined>;
  /** A channel's recordings, newest first. */
  listRecordingsOfChannel(playbackId: string): Promise<Recording[]>;
  /** Removes the item; returns it, or undefined if there was none. */
  deleteRecording(id: string): Promise<Recording | undefined>;
}

export interface RoutingStore extends ChannelStore, RouteStore, TaskStore, RecordingStore {}
