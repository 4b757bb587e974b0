/*
 * trigger_call.h — the checks every trigger function makes of how it was called, written once
 * (src/trigger_call.c): called as a trigger, fired at the right time, level and events, on the
 * right table; called as an event trigger.
 */
#ifndef TRIGGER_CALL_H
#define TRIGGER_CALL_H

#include "postgres.h"

#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "fmgr.h"

/* The events a trigger function accepts (0: any). */
#define LS_ON_INSERT   0x1
#define LS_ON_UPDATE   0x2
#define LS_ON_DELETE   0x4
#define LS_ON_TRUNCATE 0x8

/*
 * The call's TriggerData, after checking that fname() was called as a trigger fired BEFORE (or
 * AFTER), FOR EACH ROW (or STATEMENT), by one of 'events'; else an error with
 * ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED that says how it must be fired.
 */
extern TriggerData *LsTriggerCall(FunctionCallInfo fcinfo, const char *fname, bool before, bool row,
								  int events);

/*
 * The call's TriggerData, after checking that fname() was called as a trigger fired AFTER, at
 * either level and by any event (0.1.0's rule-change triggers: FOR EACH STATEMENT on the rules,
 * FOR EACH ROW on the settings, a deferred constraint trigger); else an error with
 * ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED: "fname() must be fired AFTER a change".
 */
extern TriggerData *LsAfterTriggerCall(FunctionCallInfo fcinfo, const char *fname);

/* An error unless the trigger fired on 'relid': "fname() fired on table ..., which is not 'what'".
 */
extern void LsTriggerOnTable(TriggerData *td, const char *fname, Oid relid, const char *what,
							 const char *hint);

/*
 * The call's EventTriggerData, after checking that fname() was called as an event trigger; else an
 * error with ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED.
 */
extern EventTriggerData *LsEventTriggerCall(FunctionCallInfo fcinfo, const char *fname);

#endif /* TRIGGER_CALL_H */
