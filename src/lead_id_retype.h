/*
 * lead_id_retype.h — the CRM's migration of its lead ids to another integer type, followed
 * (src/lead_id_retype.c; doc/crm_schemas.md, "The CRM's migrations").
 */
#ifndef LEAD_ID_RETYPE_H
#define LEAD_ID_RETYPE_H

#include "postgres.h"

/*
 * After an ALTER TABLE of an attached table (ddl_command_end, SPI connected; owner: the
 * extension's, who reads the configuration): when every lead id
 * column of the attached tables has one type, the extension's logs of lead ids take it and true is
 * returned (the generated views may be created again); while they differ, false (the views stay
 * released, and the transaction cannot commit so).
 */
extern bool LeadIdRetypeFollow(Oid owner);

/* Whether LeadIdRetypeFollow is altering the extension's own tables (its event triggers ignore it).
 */
extern bool LeadIdRetypeBusy(void);

#endif /* LEAD_ID_RETYPE_H */
