/** The feature bundle of the local capture server (smtp-server) and its message store. */
export { MessageStore, startCaptureServer } from '../localServer';
