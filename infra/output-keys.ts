/**
 * The stack's CloudFormation output keys. The CLI (cli/stack-outputs.ts) reads a deployed stack by these
 * names, so they are a contract: no CDK imports here, and renaming one breaks `npx keyframe --stack`.
 */
export const OUTPUT_KEYS = {
  rtmpUrl: 'RtmpUrl',
  rtmpsUrl: 'RtmpsUrl',
  ingestDnsTarget: 'IngestDnsTarget',
  playbackBaseUrl: 'PlaybackBaseUrl',
  playerUrl: 'PlayerUrl',
  tableName: 'TableName',
  createStreamKeyCommand: 'CreateStreamKeyCommand',
  distributionDomainName: 'DistributionDomainName',
  dashboardUrl: 'DashboardUrl',
  alarmTopicArn: 'AlarmTopicArn',
  playbackSecretArn: 'PlaybackSecretArn',
  /** The recordings bucket (`keyframe recordings delete --stack` removes a recording's objects from it). */
  recordingBucketName: 'RecordingBucketName',
} as const;
