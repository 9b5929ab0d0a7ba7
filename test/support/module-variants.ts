import { Injectable, Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { SessionModule } from 'nest-express-session';
import type { SessionModuleOptions, SessionOptionsFactory } from 'nest-express-session';

/**
 * The same options through each way of configuring the module: forRoot, and forRootAsync with
 * useFactory (with inject), useClass and useExisting.
 */
export function moduleVariants(
  options: SessionModuleOptions,
  extras: { isGlobal?: boolean } = {},
): [string, DynamicModule][] {
  @Injectable()
  class OptionsFactory implements SessionOptionsFactory {
    createSessionOptions(): SessionModuleOptions {
      return options;
    }
  }
  const SOURCE = 'TEST_OPTIONS_SOURCE';
  @Module({ providers: [{ provide: SOURCE, useValue: options }], exports: [SOURCE] })
  class SourceModule {}
  @Module({ providers: [OptionsFactory], exports: [OptionsFactory] })
  class FactoryModule {}

  return [
    ['forRoot', SessionModule.forRoot({ ...options, ...extras })],
    [
      'forRootAsync useFactory',
      SessionModule.forRootAsync({
        imports: [SourceModule],
        inject: [SOURCE],
        useFactory: (source: SessionModuleOptions) => Promise.resolve(source),
        ...extras,
      }),
    ],
    ['forRootAsync useClass', SessionModule.forRootAsync({ useClass: OptionsFactory, ...extras })],
    [
      'forRootAsync useExisting',
      SessionModule.forRootAsync({ imports: [FactoryModule], useExisting: OptionsFactory, ...extras }),
    ],
  ];
}
