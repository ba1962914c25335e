/**
 * Architecture rules (`npm run arch`). The folders under src/ are the areas;
 * their imports must point one way, and the two libraries inside the app stay
 * usable on their own.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment:
        'Areas (top-level folders of src/) must not import each other in a circle: ' +
        'move the shared piece down into the area both can depend on.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/[^/]+' },
      to: { circular: true },
    },
    {
      name: 'emulator-is-standalone',
      comment:
        'src/emulator/ is a library usable without the app: it imports only itself and packages.',
      severity: 'error',
      from: { path: '^src/emulator/' },
      to: {
        pathNot: ['^src/emulator/', '^node_modules/'],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'pql-is-standalone',
      comment:
        'src/segments/pql/ (lexer, parser, evaluator) imports only itself and packages.',
      severity: 'error',
      from: { path: '^src/segments/pql/' },
      to: {
        pathNot: ['^src/segments/pql/', '^node_modules/'],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve is a typo or a missing package.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/metadata\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
