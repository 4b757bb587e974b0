/*
 * settings.h — the one row of lead_scoring.settings, cached per backend.
 */
#ifndef SETTINGS_H
#define SETTINGS_H

#include "postgres.h"

#include "datatype/timestamp.h"

typedef struct LsSettings
{
	bool has_disqualify_below;
	int32 disqualify_below;
	bool has_score_floor;
	int32 score_floor;
	bool has_score_ceiling;
	int32 score_ceiling;
	Interval sla;
	char *default_phone_country; /* NULL when not set */
	int nwon;
	char **won_statuses; /* lower-case */
	int nlost;
	char **lost_statuses; /* lower-case */
	char *attribution_model;
	Interval attribution_lookback;
	Interval attribution_half_life;
	int32 fit_grade_bands[3];		 /* lower bounds of A, B, C */
	int32 engagement_grade_bands[3]; /* lower bounds of 1, 2, 3 */
	uint64 load;					 /* which load of the table this is, in the backend */
} LsSettings;

/* The current settings (valid until the next invalidation is processed). */
extern const LsSettings *LsGetSettings(void);
extern void SettingsInit(void);

#endif /* SETTINGS_H */
