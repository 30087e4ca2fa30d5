export { describeHubAnswer, describeHubFailure, hubMessage, statusOf } from './hub-failure';
export type { HubFailureContext } from './hub-failure';
