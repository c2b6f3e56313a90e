/*
 * Inside the config reader: its context and the helpers conf.c shares
 * with confexp.c (the settings of experiments and timing, SPEC §15).
 */
#ifndef JD_RULES_CONF_INT_H
#define JD_RULES_CONF_INT_H

#include <libconfig.h>

#include "rules/rules.h"

struct conf_ctx {
	const char	*path;		/* the main file, for settings without one */
	struct problems	*probs;
	sqlite3		*json;		/* in-memory, to build JSON */
	char		**files;	/* included files' paths, for messages */
	int		 nfiles;
};

/* Report a problem at a setting. */
#define conf_error(c, s, ...) \
	problems_add((c)->probs, conf_file(c, s), conf_line(s), __VA_ARGS__)

/* conf.c */
const char	*conf_file(struct conf_ctx *, const config_setting_t *);
int		 conf_line(const config_setting_t *);
void		 conf_check_keys(struct conf_ctx *, const config_setting_t *,
		    const char **keys, const char *what);
const char	*conf_string(struct conf_ctx *, const config_setting_t *,
		    const char *key);
int		 conf_valid_name(const char *);
void		 conf_values_free(struct conf_values *);
int		 conf_action(struct conf_ctx *, struct config *,
		    const struct rule *, config_setting_t *, struct variant *);

/* confexp.c */
void		 conf_window(struct conf_ctx *, struct rule *,
		    config_setting_t *);
void		 conf_variants(struct conf_ctx *, struct rule *,
		    config_setting_t *);
void		 conf_variant_actions(struct conf_ctx *, struct config *,
		    struct rule *, config_setting_t *);
void		 conf_experiment_free(struct rule *);

#endif /* JD_RULES_CONF_INT_H */
