/** Which of this process's background loops has work: messages to send, launches to expand, tasks to run. */
export type Work = 'messages' | 'launches' | 'tasks';

/** Tells this process's loop for `what` that it has work, so it starts now rather than at its next poll. */
export type Wake = (what: Work) => void;
