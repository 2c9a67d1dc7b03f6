/**
 * `@peculiar/x509` 2.x (through tsyringe) needs a Reflect metadata polyfill at load time. Import this module before
 * `@peculiar/x509`; it loads the standard `reflect-metadata` polyfill once.
 */
import 'reflect-metadata';
