import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../fixtures/events/', import.meta.url));

/** A captured ECS Task State Change event, as a fresh copy the test may edit. */
export function ecsEvent(name: 'ecs-task-running' | 'ecs-task-stopped'): any {
  return JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8'));
}

/** The fixture re-addressed to another task, status and version. */
export function taskEvent(taskArn: string, lastStatus: string, version: number, ip = '10.0.3.57'): any {
  const e = ecsEvent(lastStatus === 'STOPPED' ? 'ecs-task-stopped' : 'ecs-task-running');
  e.resources = [taskArn];
  e.detail.taskArn = taskArn;
  e.detail.lastStatus = lastStatus;
  e.detail.version = version;
  e.detail.attachments[0].details.find((d: any) => d.name === 'privateIPv4Address').value = ip;
  e.detail.containers[0].networkInterfaces[0].privateIpv4Address = ip;
  return e;
}
