/**
 * Usage:
 *   npx tsx tools/k8s-checks/src/cli.ts render <overlay>   the overlay's manifests as one YAML stream on stdout
 *                                                           (`… | kubectl apply -f -`, same as `kubectl apply -k`)
 *   npx tsx tools/k8s-checks/src/cli.ts generate            rewrites deploy/kubernetes/components/monitoring/generated
 *                                                           from monitoring/ (after changing a rule or a dashboard)
 *   npx tsx tools/k8s-checks/src/cli.ts check [<overlay>]   renders and validates (what the specs do), prints problems
 */
import { writeFileSync } from 'node:fs';
import { generatedFiles } from './generate';
import { renderOverlay } from './overlay';
import { validateOverlay } from './validate';
import { OVERLAYS, Overlay, workspacePath } from './workspace';
import { toYaml } from './yaml';

function overlayArgument(value: string | undefined): Overlay {
  if (!value || !(OVERLAYS as readonly string[]).includes(value)) {
    throw new Error(`name an overlay: ${OVERLAYS.join(' | ')}`);
  }
  return value as Overlay;
}

function main(args: string[]): number {
  const [command, argument] = args;
  switch (command) {
    case 'render': {
      const objects = renderOverlay(overlayArgument(argument));
      process.stdout.write(objects.map(toYaml).join('---\n'));
      return 0;
    }
    case 'generate':
      for (const [path, text] of Object.entries(generatedFiles())) {
        writeFileSync(workspacePath(path), text);
        console.error(`wrote ${path}`);
      }
      return 0;
    case 'check': {
      let failed = 0;
      for (const overlay of argument ? [overlayArgument(argument)] : OVERLAYS) {
        const problems = validateOverlay(overlay);
        console.error(`${overlay}: ${problems.length === 0 ? 'ok' : `${problems.length} problem(s)`}`);
        problems.forEach((problem) => console.error(`  ${problem}`));
        failed += problems.length;
      }
      return failed === 0 ? 0 : 1;
    }
    default:
      console.error('usage: cli.ts render <overlay> | generate | check [<overlay>]');
      return 2;
  }
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
