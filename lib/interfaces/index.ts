export * from './session-module-options.interface.js';
export * from './session-options-factory.interface.js';
export * from './redis-store-options.interface.js';
export * from './postgres-store-options.interface.js';
export * from './sqlite-store-options.interface.js';
export * from './csrf-options.interface.js';
