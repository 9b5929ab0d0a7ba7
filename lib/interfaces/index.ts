export * from './session-module-options.interface.js';
export * from './session-options-factory.interface.js';
