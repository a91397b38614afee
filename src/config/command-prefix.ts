/** The prefix a command starts with unless the repository's settings choose another (`commands.prefix`). */
export const DEFAULT_COMMAND_PREFIX = "/amistio";
