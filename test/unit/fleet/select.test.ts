/** Fleet selection: --targets and --match over the configured names, with errors naming the option and value. */
import { describe, expect, it } from 'vitest';
import { isFleetSelection, parseConcurrency, parseTargetList, selectTargets } from '../../../src/fleet/select.js';

const configured = ['contoso-api', 'fabrikam-api', 'contoso-portal', 'bench-0001', 'bench-0002'];

describe('selectTargets', () => {
  it('--due alone considers every configured target, in configuration order', () => {
    expect(selectTargets(configured, { due: true })).toEqual(configured);
  });

  it('--targets keeps configuration order and refuses unknown names, naming them and the option', () => {
    expect(selectTargets(configured, { targets: ['bench-0001', 'contoso-api'] })).toEqual([
      'contoso-api',
      'bench-0001',
    ]);
    expect(() => selectTargets(configured, { targets: ['contoso-api', 'nope', 'gone'] })).toThrow(
      /option --targets: "nope", "gone" are not in the configuration; expected names from: contoso-api, /,
    );
  });

  it('--match takes the names the glob matches and refuses a glob that matches nothing', () => {
    expect(selectTargets(configured, { match: 'bench-*' })).toEqual(['bench-0001', 'bench-0002']);
    expect(selectTargets(configured, { match: 'contoso-?pi' })).toEqual(['contoso-api']);
    expect(() => selectTargets(configured, { match: 'prod-*' })).toThrow(
      /option --match: "prod-\*" matches no configured target/,
    );
  });

  it('--targets with --match narrows the list by the glob', () => {
    expect(selectTargets(configured, { targets: ['contoso-api', 'bench-0002'], match: 'bench-*' })).toEqual([
      'bench-0002',
    ]);
  });

  it('an empty configuration is an error, not an empty success', () => {
    expect(() => selectTargets([], { due: true })).toThrow(/no targets/);
  });
});

describe('fleet option parsing', () => {
  it('--targets refuses empty and repeated names', () => {
    expect(parseTargetList('a, b')).toEqual(['a', 'b']);
    expect(() => parseTargetList('a,,b')).toThrow(/option --targets: "a,,b" has an empty name/);
    expect(() => parseTargetList('a,b,a')).toThrow(/option --targets: "a" is listed twice/);
  });

  it('--concurrency is a whole number from 1 to 64, default when absent', () => {
    expect(parseConcurrency(undefined, 4)).toBe(4);
    expect(parseConcurrency('8', 4)).toBe(8);
    for (const bad of ['0', '-1', '2.5', 'four', '65']) {
      expect(() => parseConcurrency(bad, 4)).toThrow(
        `option --concurrency: "${bad}" is not a whole number from 1 to 64`,
      );
    }
  });

  it('recognises a fleet selection', () => {
    expect(isFleetSelection({})).toBe(false);
    expect(isFleetSelection({ due: true })).toBe(true);
    expect(isFleetSelection({ match: '*' })).toBe(true);
    expect(isFleetSelection({ targets: [] })).toBe(true);
  });
});
