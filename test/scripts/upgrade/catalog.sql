-- A textual picture of everything lead_scoring owns or generates in a database: one line per fact,
-- free of OIDs, sorted.  test/scripts/upgrade.sh compares it between an upgraded and a fresh install.
\pset format unaligned
\pset tuples_only on
\pset pager off
WITH ext AS (SELECT oid, extname, extversion, extconfig, extcondition FROM pg_extension WHERE extname = 'lead_scoring'),
nsp AS (SELECT 'lead_scoring'::regnamespace AS oid),
acl(a) AS (SELECT NULL::aclitem[]),
facts(line) AS (
    -- the extension itself and its config tables registered for pg_dump
    SELECT 'extension ' || extversion FROM ext
    UNION ALL
    SELECT 'config dump ' || c::regclass::text || ' where ' || coalesce(w, '')
      FROM ext, unnest(extconfig, extcondition) AS u(c, w)
    -- every member object
    UNION ALL
    SELECT 'member ' || pg_describe_object(d.classid, d.objid, 0)
      FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
    -- the schema's privileges
    UNION ALL
    SELECT 'schema acl ' || coalesce(n.nspacl::text, '') || ' owner ' || pg_get_userbyid(n.nspowner)
      FROM pg_namespace n, nsp WHERE n.oid = nsp.oid
    -- functions, procedures and aggregates in the schema, member or generated
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure::text || ' kind ' || p.prokind::text || ' returns '
           || pg_get_function_result(p.oid) || ' args ' || pg_get_function_arguments(p.oid)
           || ' lang ' || l.lanname || ' vol ' || p.provolatile::text || ' strict ' || p.proisstrict
           || ' par ' || p.proparallel::text || ' secdef ' || p.prosecdef || ' leakproof ' || p.proleakproof
           || ' cost ' || p.procost || ' rows ' || p.prorows || ' config ' || coalesce(p.proconfig::text, '')
           || ' acl ' || coalesce(p.proacl::text, '') || ' owner ' || pg_get_userbyid(p.proowner)
           || ' comment ' || coalesce(obj_description(p.oid, 'pg_proc'), '')
           || ' body ' || CASE WHEN l.lanname = 'c' THEN p.prosrc || ' in ' || p.probin
                               WHEN p.prokind = 'a' THEN ''
                               ELSE md5(p.prosrc) END
      FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang, nsp WHERE p.pronamespace = nsp.oid
    UNION ALL
    SELECT 'aggregate ' || a.aggfnoid::regprocedure::text || ' sfunc ' || a.aggtransfn::regproc::text
           || ' combine ' || a.aggcombinefn::regproc::text || ' sortop ' || a.aggsortop::regoperator::text
      FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid, nsp WHERE p.pronamespace = nsp.oid
    -- relations: kind, owner, privileges, options, comment; columns in order; view definitions
    UNION ALL
    SELECT 'relation ' || c.relname || ' kind ' || c.relkind::text || ' owner ' || pg_get_userbyid(c.relowner)
           || ' acl ' || coalesce(c.relacl::text, '') || ' options ' || coalesce(c.reloptions::text, '')
           || ' persistence ' || c.relpersistence::text || ' rls ' || c.relrowsecurity
           || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '')
      FROM pg_class c, nsp WHERE c.relnamespace = nsp.oid
    UNION ALL
    SELECT 'column ' || c.relname || '.' || lpad(rank() OVER (PARTITION BY c.oid ORDER BY a.attnum)::text, 3, '0')
           || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull ' || a.attnotnull
           || ' identity ' || a.attidentity::text || ' generated ' || a.attgenerated::text
           || ' default ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
           || ' collation ' || coalesce((SELECT collname FROM pg_collation WHERE oid = a.attcollation), '')
           || ' acl ' || coalesce(a.attacl::text, '')
           || ' comment ' || coalesce(col_description(c.oid, a.attnum), '')
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum, nsp
     WHERE c.relnamespace = nsp.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'c', 'f')
    UNION ALL
    SELECT 'view ' || c.relname || ' ' || pg_get_viewdef(c.oid)
      FROM pg_class c, nsp WHERE c.relnamespace = nsp.oid AND c.relkind IN ('v', 'm')
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid, nsp WHERE c.relnamespace = nsp.oid
    UNION ALL
    SELECT 'constraint ' || c.relname || '.' || k.conname || ' ' || pg_get_constraintdef(k.oid)
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid, nsp WHERE c.relnamespace = nsp.oid
    UNION ALL
    SELECT 'policy ' || c.relname || '.' || p.polname || ' ' || p.polcmd::text || ' ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '')
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid, nsp WHERE c.relnamespace = nsp.oid
    -- sequences: their definition, not their position
    UNION ALL
    SELECT 'sequence ' || s.seqrelid::regclass::text || ' ' || format_type(s.seqtypid, NULL) || ' ' || s.seqstart
           || ' ' || s.seqincrement || ' ' || s.seqmax || ' ' || s.seqmin || ' ' || s.seqcache || ' ' || s.seqcycle
      FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid, nsp WHERE c.relnamespace = nsp.oid
    -- types, operators, operator classes and families, casts
    UNION ALL
    SELECT 'type ' || t.oid::regtype::text || ' ' || t.typtype::text || ' ' || t.typlen || ' ' || t.typbyval || ' '
           || t.typalign::text || ' ' || t.typstorage::text || ' ' || t.typcategory::text || ' ' || t.typispreferred
           || ' in ' || t.typinput::text || ' out ' || t.typoutput::text || ' recv ' || t.typreceive::text
           || ' send ' || t.typsend::text || ' acl ' || coalesce(t.typacl::text, '')
           || ' comment ' || coalesce(obj_description(t.oid, 'pg_type'), '')
      FROM pg_type t, nsp WHERE t.typnamespace = nsp.oid AND t.typrelid = 0
    UNION ALL
    SELECT 'operator ' || o.oid::regoperator::text || ' com ' || o.oprcom::regoperator::text
           || ' neg ' || o.oprnegate::regoperator::text || ' proc ' || o.oprcode::text
           || ' rest ' || o.oprrest::text || ' join ' || o.oprjoin::text || ' hash ' || o.oprcanhash
           || ' merge ' || o.oprcanmerge
      FROM pg_operator o WHERE o.oprnamespace IN (SELECT oid FROM nsp)
         OR o.oid IN (SELECT d.objid FROM pg_depend d, ext WHERE d.refobjid = ext.oid AND d.deptype = 'e'
                       AND d.classid = 'pg_operator'::regclass)
    UNION ALL
    SELECT 'opclass ' || m.amname || ' ' || oc.opcname || ' default ' || oc.opcdefault || ' for '
           || oc.opcintype::regtype::text || ' member ' || coalesce(
               (SELECT string_agg(ao.amopstrategy || ':' || ao.amopopr::regoperator::text, ',' ORDER BY ao.amopstrategy)
                  FROM pg_amop ao WHERE ao.amopfamily = oc.opcfamily), '')
           || ' support ' || coalesce(
               (SELECT string_agg(ap.amprocnum || ':' || ap.amproc::text, ',' ORDER BY ap.amprocnum)
                  FROM pg_amproc ap WHERE ap.amprocfamily = oc.opcfamily), '')
      FROM pg_opclass oc JOIN pg_am m ON m.oid = oc.opcmethod, nsp WHERE oc.opcnamespace = nsp.oid
    UNION ALL
    SELECT 'cast ' || format_type(k.castsource, NULL) || ' -> ' || format_type(k.casttarget, NULL) || ' '
           || k.castcontext::text || ' ' || k.castmethod::text || ' ' || coalesce(k.castfunc::regprocedure::text, '')
      FROM pg_cast k, ext, pg_depend d
     WHERE d.refobjid = ext.oid AND d.deptype = 'e' AND d.classid = 'pg_cast'::regclass AND d.objid = k.oid
    -- triggers: on the attached CRM tables and on the extension's own tables
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
           || ' enabled ' || t.tgenabled::text
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE NOT t.tgisinternal
       AND (c.relnamespace IN (SELECT oid FROM nsp)
            OR t.tgfoid IN (SELECT p.oid FROM pg_proc p, nsp WHERE p.pronamespace = nsp.oid))
    UNION ALL
    SELECT 'event trigger ' || e.evtname || ' ' || e.evtevent || ' ' || e.evtfoid::regproc::text || ' '
           || e.evtenabled::text || ' ' || coalesce(e.evttags::text, '')
      FROM pg_event_trigger e
)
SELECT line FROM facts ORDER BY line COLLATE "C";
