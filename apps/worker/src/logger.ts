// The worker's pino logger. Every line about a job comes from a child logger carrying `jobId` (and `attempt`).
import { pino, type Logger } from 'pino';

export function createLogger(level: string, name = 'hifi-worker'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
