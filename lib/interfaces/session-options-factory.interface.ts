import type { SessionModuleOptions } from './session-module-options.interface.js';

/** A class that `forRootAsync({ useClass })` or `useExisting` can use to build the options. */
export interface SessionOptionsFactory {
  /** Returns the module's options. */
  createSessionOptions(): SessionModuleOptions | Promise<SessionModuleOptions>;
}
