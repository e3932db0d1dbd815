// Placeholder CLI; replaced by the commander-based CLI (start, lab).
console.error('spacephone: not yet implemented');
process.exit(1);
