/*
 * lead_scoring.h — the extension's settings (GUCs), defined in lead_scoring.c with the module
 * initialisation.  Nothing else: shared helpers have headers of their own (clock.h, catalog.h).
 */
#ifndef LEAD_SCORING_H
#define LEAD_SCORING_H

#include "postgres.h"

/* lead_scoring.enforce_transitions, lead_scoring.actor, lead_scoring.reason */
extern bool ls_enforce_transitions;
extern char *ls_actor;
extern char *ls_reason;

#endif /* LEAD_SCORING_H */
