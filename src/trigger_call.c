/*
 * trigger_call.c — how a trigger function was called (see trigger_call.h).
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "lib/stringinfo.h"
#include "utils/rel.h"

#include "trigger_call.h"

/* "INSERT OR UPDATE " for the accepted events, "" for any. */
static const char *
EventsText(int events)
{
	static const struct
	{
		int bit;
		const char *name;
	} names[] = {{LS_ON_INSERT, "INSERT"},
				 {LS_ON_UPDATE, "UPDATE"},
				 {LS_ON_DELETE, "DELETE"},
				 {LS_ON_TRUNCATE, "TRUNCATE"}};
	StringInfoData s;
	int i;

	if (events == 0)
		return "";
	initStringInfo(&s);
	for (i = 0; i < lengthof(names); i++)
		if (events & names[i].bit)
			appendStringInfo(&s, "%s%s", s.len > 0 ? " OR " : "", names[i].name);
	appendStringInfoChar(&s, ' ');
	return s.data;
}

static bool
FiredBy(TriggerData *td, int events)
{
	return events == 0 || ((events & LS_ON_INSERT) && TRIGGER_FIRED_BY_INSERT(td->tg_event)) ||
		   ((events & LS_ON_UPDATE) && TRIGGER_FIRED_BY_UPDATE(td->tg_event)) ||
		   ((events & LS_ON_DELETE) && TRIGGER_FIRED_BY_DELETE(td->tg_event)) ||
		   ((events & LS_ON_TRUNCATE) && TRIGGER_FIRED_BY_TRUNCATE(td->tg_event));
}

TriggerData *
LsTriggerCall(FunctionCallInfo fcinfo, const char *fname, bool before, bool row, int events)
{
	TriggerData *td;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("%s() must be called as a trigger", fname)));
	td = (TriggerData *) fcinfo->context;
	if ((TRIGGER_FIRED_BEFORE(td->tg_event) != 0) != before ||
		(TRIGGER_FIRED_FOR_ROW(td->tg_event) != 0) != row || !FiredBy(td, events))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("%s() must be fired %s %s... FOR EACH %s", fname,
							   before ? "BEFORE" : "AFTER", EventsText(events),
							   row ? "ROW" : "STATEMENT")));
	return td;
}

TriggerData *
LsAfterTriggerCall(FunctionCallInfo fcinfo, const char *fname)
{
	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(((TriggerData *) fcinfo->context)->tg_event))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("%s() must be fired AFTER a change", fname)));
	return (TriggerData *) fcinfo->context;
}

void
LsTriggerOnTable(TriggerData *td, const char *fname, Oid relid, const char *what, const char *hint)
{
	if (RelationGetRelid(td->tg_relation) == relid)
		return;
	ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					errmsg("%s() fired on table \"%s\", which is not %s", fname,
						   RelationGetRelationName(td->tg_relation), what),
					hint != NULL ? errhint("%s", hint) : 0));
}

EventTriggerData *
LsEventTriggerCall(FunctionCallInfo fcinfo, const char *fname)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("%s() must be called as an event trigger", fname)));
	return (EventTriggerData *) fcinfo->context;
}
