import { ConfigurableModuleBuilder } from '@nestjs/common';
import { SESSION_RAW_OPTIONS } from './session.constants.js';
import type { SessionModuleOptions } from './interfaces/index.js';

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<SessionModuleOptions>({
    optionsInjectionToken: SESSION_RAW_OPTIONS,
  })
    .setClassMethodName('forRoot')
    .setFactoryMethodName('createSessionOptions')
    .setExtras({ isGlobal: true }, (definition, extras) => ({
      ...definition,
      global: extras.isGlobal,
    }))
    .build();
